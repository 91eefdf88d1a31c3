/**
 * The body of a sweep's worker thread: trains one run and reports how it ended. A "stop" message interrupts the run,
 * which then writes a checkpoint before the thread exits.
 */
import { parentPort, workerData } from "node:worker_threads"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option } from "effect"
import { ServicesLive } from "../AppLayer.js"
import type { ExperimentConfig } from "../domain/Config.js"
import { isDeterministicFailure } from "../domain/Errors.js"
import { terminalLogger } from "../services/Logging.js"
import { trainRun } from "./TrainRun.js"

export interface RunWorkerInput {
  readonly config: ExperimentConfig
  readonly dir: string
}

export type RunWorkerOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "failed"; readonly reason: string; readonly transient: boolean }
  | { readonly kind: "interrupted" }

/** The terminal gets this thread's warnings and errors only; the run's log file gets everything. */
const WorkerLogging = Logger.replace(
  Logger.defaultLogger,
  Logger.filterLogLevel(terminalLogger, (level) => LogLevel.greaterThanEqual(level, LogLevel.Warning))
)

export const outcomeOf = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>): RunWorkerOutcome => {
  if (Exit.isSuccess(exit)) return { kind: "done" }
  if (Cause.isInterruptedOnly(exit.cause)) return { kind: "interrupted" }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    return { kind: "failed", reason: failure.value.message, transient: !isDeterministicFailure(failure.value) }
  }
  return { kind: "failed", reason: Cause.pretty(exit.cause).split("\n")[0]!, transient: false }
}

if (parentPort !== null) {
  const port = parentPort
  const { config, dir } = workerData as RunWorkerInput
  const fiber = Effect.runFork(trainRun(config, { dir }).pipe(Effect.provide(Layer.merge(ServicesLive, WorkerLogging))))
  port.on("message", (message: unknown) => {
    if (message === "stop") Effect.runFork(Fiber.interrupt(fiber))
  })
  fiber.addObserver((exit) => {
    port.postMessage(outcomeOf(exit))
    port.close()
  })
}
