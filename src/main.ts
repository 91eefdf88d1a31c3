/**
 * The CLI's entry point: runs the command and exits with the code of src/ExitCodes.ts.
 *
 * Ctrl-C and SIGTERM interrupt the command once: every running run writes a checkpoint at its current step, the
 * manifest sets it back to pending, a line says where it stopped, and the process exits with 130. Repeated signals
 * (a terminal's Ctrl-C reaches pnpm, the shell and this process at once, and pnpm forwards its own) do not cut that
 * short. `pnpm start` runs node directly (no tsx CLI wrapper, which kills a child that does not answer a signal within
 * 60 ms).
 */
import { ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Exit, Layer, Option } from "effect"
import { ServicesLive } from "./AppLayer.js"
import { cli } from "./Cli.js"
import { ExitCode, exitCodeOf } from "./ExitCodes.js"
import { PlainConsoleLive, TerminalLoggingLive } from "./services/Logging.js"

const describe = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
  const error = failure.value
  // @effect/cli has already printed its own usage errors.
  if (ValidationError.isValidationError(error)) return Effect.void
  return Console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
}

const program = Effect.suspend(() => cli(process.argv)).pipe(
  Effect.tapErrorCause(describe),
  Effect.provide(Layer.mergeAll(ServicesLive, TerminalLoggingLive, PlainConsoleLive))
)

const fiber = Effect.runFork(program)
// The fiber may wait on nothing that keeps node's event loop alive (a queue, a semaphore): hold it open until the end.
const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
let interruptedAt: number | undefined
const onSignal = (signal: NodeJS.Signals) => {
  if (interruptedAt === undefined) {
    interruptedAt = Date.now()
    fiber.unsafeInterruptAsFork(fiber.id())
  } else if (Date.now() - interruptedAt > 1000) {
    // Within a second it is the same keypress, delivered twice (by the terminal and by pnpm).
    process.stderr.write(`${signal}: already stopping, writing checkpoints (Ctrl-\\ quits without them)\n`)
  }
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)
fiber.addObserver((exit) => {
  clearInterval(keepAlive)
  process.exit(Exit.isSuccess(exit) ? ExitCode.ok : exitCodeOf(exit.cause))
})
