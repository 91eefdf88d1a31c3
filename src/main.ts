import { ValidationError } from "@effect/cli"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Option } from "effect"
import { ServicesLive } from "./AppLayer.js"
import { cli } from "./Cli.js"
import { TerminalLoggingLive } from "./services/Logging.js"

/**
 * Exit codes: 2 for input the user must fix (config, usage, a folder holding another config's results), 130 for an
 * interrupt, 1 for any other failure (failed runs of a sweep included).
 */
const exitCodeOf = (cause: Cause.Cause<unknown>): number => {
  if (Cause.isInterruptedOnly(cause)) return 130
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (ValidationError.isValidationError(error)) return 2
    if (typeof error === "object" && error !== null && "_tag" in error && (error._tag === "ConfigError" || error._tag === "SweepDrift")) {
      return 2
    }
  }
  return 1
}

const describe = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
  const error = failure.value
  // @effect/cli has already printed its own usage errors.
  if (ValidationError.isValidationError(error)) return Effect.void
  return Console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
}

Effect.suspend(() => cli(process.argv)).pipe(
  Effect.tapErrorCause(describe),
  Effect.provide(Layer.merge(ServicesLive, TerminalLoggingLive)),
  NodeRuntime.runMain({
    disablePrettyLogger: true,
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? 0 : exitCodeOf(exit.cause))
  })
)
