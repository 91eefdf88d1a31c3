/**
 * A pool of worker threads that train runs in parallel. Threads are started once (each loads the code and builds its
 * services) and reused; a thread that dies is replaced. Closing the pool's scope stops every thread, after asking the
 * runs still on them to write a checkpoint and stop, as an interrupt of the caller would (bounded by the same stop
 * timeout): whichever of the two happens first, no run is cut off without its checkpoint. A run may be
 * given `onCheckpoint`: the checkpoints the run writes are handed to it one at a time, the newest when it falls
 * behind (one it had no time for is skipped), and always the last one of a run that stopped early.
 */
import { Worker } from "node:worker_threads"
import { Deferred, Effect, Exit, Fiber, Queue } from "effect"
import type { BaseConfig } from "../domain/ConfigSchema.js"
import { RunFailed } from "../domain/Errors.js"
import { workerEntry } from "../services/WorkerEntry.js"
import type { RunCheckpointMessage, RunRequest, RunWorkerOutcome } from "./RunWorker.js"

/**
 * The config a run trains with on a pool thread: without a progress line, and sampling its batches on its own thread
 * (runs in parallel use the cores already). Neither changes what it computes.
 */
export const threadConfig = (config: BaseConfig): BaseConfig => ({
  ...config,
  output: { ...config.output, progress: false },
  runtime: { ...config.runtime, samplerThreads: 0 }
})

interface PoolWorker {
  readonly worker: Worker
  /** Set when the thread died: it is replaced, not reused. */
  broken: boolean
}

type WorkerMessage = RunWorkerOutcome | RunCheckpointMessage

/** How long an interrupted run may take to write its checkpoint and stop before its thread is abandoned. */
const STOP_TIMEOUT_MS = 30_000

export interface RunPool {
  /**
   * Trains one run on a free thread. An interrupt asks the thread to checkpoint and stop, and waits for it (the last
   * checkpoint still reaches `onCheckpoint`).
   */
  readonly run: (
    request: RunRequest,
    runId: string,
    onCheckpoint?: (text: string) => Effect.Effect<void>
  ) => Effect.Effect<void, RunFailed>
}

export const makeRunPool = (size: number, onWorkerStart?: (worker: Worker) => void) =>
  Effect.gen(function* () {
    const idle = yield* Queue.unbounded<PoolWorker>()
    const all = new Set<PoolWorker>()
    const spawn = () => {
      const worker = new Worker(workerEntry("run-worker", new URL("../services/run-worker.mjs", import.meta.url)), { workerData: { role: "sweep-run" } })
      onWorkerStart?.(worker)
      const entry: PoolWorker = { worker, broken: false }
      all.add(entry)
      worker.once("exit", () => {
        entry.broken = true
        all.delete(entry)
      })
      return entry
    }
    // Runs in progress: the thread each holds, and a signal that its `run` (checkpoint hand-over included) is over.
    const active = new Map<Deferred.Deferred<void>, PoolWorker>()
    let closing = false
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        for (const entry of active.values()) entry.worker.postMessage("stop")
        yield* Effect.forEach([...active.keys()], Deferred.await, { discard: true }).pipe(Effect.timeoutOption(STOP_TIMEOUT_MS))
        yield* Effect.promise(() => Promise.all([...all].map((entry) => entry.worker.terminate())))
      })
    )
    for (let i = 0; i < size; i++) yield* Queue.offer(idle, spawn())

    const train = (entry: PoolWorker, request: RunRequest, runId: string, onCheckpointText: ((text: string) => void) | undefined) =>
      Effect.async<void, RunFailed>((resume) => {
        const { worker } = entry
        let settled = false
        let stopped: (() => void) | undefined
        const cleanup = () => {
          worker.off("message", onMessage)
          worker.off("error", onError)
          worker.off("exit", onExit)
        }
        const settle = (effect: Effect.Effect<void, RunFailed>) => {
          if (settled) return
          settled = true
          cleanup()
          resume(effect)
        }
        const onMessage = (message: WorkerMessage) => {
          if (message.kind === "checkpoint") {
            onCheckpointText?.(message.text)
            return
          }
          if (stopped !== undefined) {
            cleanup()
            stopped()
            return
          }
          settle(
            message.kind === "done"
              ? Effect.void
              : Effect.fail(
                  new RunFailed({
                    runId,
                    reason: message.kind === "failed" ? message.reason : "interrupted",
                    transient: message.kind === "failed" ? message.transient : true
                  })
                )
          )
        }
        const onError = (error: Error) => {
          entry.broken = true
          settle(Effect.fail(new RunFailed({ runId, reason: `worker died: ${error.message}`, transient: true })))
          stopped?.()
        }
        const onExit = (code: number) => {
          entry.broken = true
          settle(Effect.fail(new RunFailed({ runId, reason: `worker exited with code ${code}`, transient: true })))
          stopped?.()
        }
        worker.on("message", onMessage)
        worker.on("error", onError)
        worker.on("exit", onExit)
        worker.postMessage({ ...request, forwardCheckpoints: onCheckpointText !== undefined } satisfies RunRequest)
        return Effect.async<void>((done) => {
          // Interrupted: ask for a checkpoint and wait (bounded) for the run to report that it stopped.
          settled = true
          const timer = setTimeout(() => {
            entry.broken = true
            cleanup()
            done(Effect.void)
          }, STOP_TIMEOUT_MS)
          stopped = () => {
            clearTimeout(timer)
            done(Effect.void)
          }
          worker.postMessage("stop")
        })
      })

    const run: RunPool["run"] = (request, runId, onCheckpoint) =>
      Effect.acquireUseRelease(
        // A thread that died while idle is replaced before it is given a run (it would never answer). A closing pool
        // starts nothing (a run it stopped may be retried by its caller).
        Effect.suspend(() => (closing ? Effect.interrupt : Queue.take(idle))).pipe(
          Effect.map((entry) => (entry.broken ? spawn() : entry)),
          Effect.flatMap((entry) => Deferred.make<void>().pipe(Effect.map((finished) => ({ entry, finished })))),
          Effect.tap(({ entry, finished }) => Effect.sync(() => active.set(finished, entry)))
        ),
        ({ entry }) =>
          Effect.gen(function* () {
            if (onCheckpoint === undefined) return yield* train(entry, request, runId, undefined)
            // The newest checkpoint not handed over yet, and a signal that one arrived. Handing one over is not
            // interrupted midway, so that stopping the uploader waits for it and loses no checkpoint.
            let pending: string | undefined
            const arrived = yield* Queue.sliding<void>(1)
            const handOver = Effect.uninterruptible(
              Effect.suspend(() => {
                const text = pending
                pending = undefined
                return text === undefined ? Effect.void : onCheckpoint(text)
              })
            )
            const uploader = yield* Queue.take(arrived).pipe(Effect.zipRight(handOver), Effect.forever, Effect.fork)
            const received = (text: string) => {
              pending = text
              Queue.unsafeOffer(arrived, undefined)
            }
            return yield* train(entry, request, runId, received).pipe(
              Effect.onExit((exit) =>
                Effect.gen(function* () {
                  yield* Fiber.interrupt(uploader)
                  // A run that stopped early wrote a checkpoint as it stopped: it is handed over too.
                  if (!Exit.isSuccess(exit)) yield* handOver
                })
              )
            )
          }),
        ({ entry, finished }) =>
          Effect.suspend(() => {
            active.delete(finished)
            if (!entry.broken) return Queue.offer(idle, entry)
            const ended = Effect.promise(() => entry.worker.terminate())
            return closing ? Effect.asVoid(ended) : ended.pipe(Effect.zipRight(Queue.offer(idle, spawn())))
          }).pipe(Effect.ensuring(Deferred.succeed(finished, undefined)))
      )
    return { run } satisfies RunPool
  })
