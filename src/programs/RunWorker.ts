/**
 * The body of a sweep's worker thread: trains the runs it is sent, one at a time, and reports how each ended. Its
 * services (and their caches: frozen task sets, grid searches) live as long as the thread. A "stop" message interrupts
 * the current run, which then writes a checkpoint and reports "interrupted". A request may ask for every checkpoint
 * as it is written (a cluster runner stores them in PostgreSQL).
 */
import { parentPort, workerData } from "node:worker_threads"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import { ServicesLive } from "../AppLayer.js"
import type { BaseConfig } from "../domain/ConfigSchema.js"
import { isDeterministicFailure } from "../domain/Errors.js"
import { CheckpointSink } from "../services/CheckpointSink.js"
import { terminalLogger } from "../services/Logging.js"
import type { RunFailure } from "./Experiment.js"
import { runExperiment } from "./Registry.js"

export interface RunRequest {
  readonly config: BaseConfig
  readonly dir: string
  /** See RunFolderOptions.recordedConfig. */
  readonly recordedConfig: BaseConfig
  /** Post a `checkpoint` message with every checkpoint's text as it is written. */
  readonly forwardCheckpoints?: boolean
}

export type RunWorkerOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "failed"; readonly reason: string; readonly transient: boolean }
  | { readonly kind: "interrupted" }

/** What the thread posts while a run trains, before its outcome. */
export interface RunCheckpointMessage {
  readonly kind: "checkpoint"
  readonly text: string
}

/** The terminal gets this thread's warnings and errors only; the run's log file gets everything. */
const WorkerLogging = Logger.replace(
  Logger.defaultLogger,
  Logger.filterLogLevel(terminalLogger, (level) => LogLevel.greaterThanEqual(level, LogLevel.Warning))
)

export const outcomeOf = (exit: Exit.Exit<unknown, RunFailure>): RunWorkerOutcome => {
  if (Exit.isSuccess(exit)) return { kind: "done" }
  if (Cause.isInterruptedOnly(exit.cause)) return { kind: "interrupted" }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    return { kind: "failed", reason: failure.value.message, transient: !isDeterministicFailure(failure.value) }
  }
  return { kind: "failed", reason: Cause.pretty(exit.cause).split("\n")[0]!, transient: false }
}

// Only a thread started as a sweep's run worker runs this body.
if (parentPort !== null && (workerData as { readonly role?: string } | undefined)?.role === "sweep-run") {
  const port = parentPort
  const runtime = ManagedRuntime.make(Layer.merge(ServicesLive, WorkerLogging))
  let current: Fiber.RuntimeFiber<unknown, unknown> | undefined
  port.on("message", (message: "stop" | RunRequest) => {
    if (message === "stop") {
      if (current) runtime.runFork(Fiber.interrupt(current))
      return
    }
    const run = runExperiment(message.config, { dir: message.dir, recordedConfig: message.recordedConfig })
    const fiber = runtime.runFork(
      message.forwardCheckpoints === true
        ? Effect.provideService(run, CheckpointSink, {
            saved: (_file, text) => Effect.sync(() => port.postMessage({ kind: "checkpoint", text } satisfies RunCheckpointMessage))
          })
        : run
    )
    current = fiber
    fiber.addObserver((exit) => {
      current = undefined
      port.postMessage(outcomeOf(exit))
    })
  })
}
