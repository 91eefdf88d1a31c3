/**
 * Evaluation on every core: worker threads that each compute a share of an evaluation set's predictions (the model's
 * logits and Jacobians, a reference's) while the calling thread computes its own, all into one pair of arrays in
 * shared memory (EvaluationShare). A context's prediction is computed the same way on any thread, so the result is
 * the same bits for any number of helpers. Threads start on first use and live as long as the pool's scope; a thread
 * that fails hands its share back to the calling thread, which computes it.
 */
import { Worker } from "node:worker_threads"
import { Effect, type Scope } from "effect"
import type { Predictions } from "../../domain/classification/Metrics.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import { workerEntry } from "../WorkerEntry.js"
import { computeShare, type Prediction, setIdOf, type Share } from "./EvaluationShare.js"
import type { ShareReply, ShareRequest } from "./EvaluationWorker.js"

export interface EvaluationPool {
  /**
   * The predictions of a whole set, `helpers` worker threads sharing the work with this one (0: this thread alone; a
   * set of fewer than 2 · MIN_SHARE contexts is not shared).
   */
  readonly predict: (prediction: Prediction, set: TaskBatch, helpers: number) => Effect.Effect<Predictions>
  /** Shares computed by worker threads so far. */
  readonly helperShares: () => number
}

/** Contexts below which a share is not worth a thread (a thread's message costs about as much as 200 contexts). */
export const MIN_SHARE = 500

interface Helper {
  readonly worker: Worker
  readonly pending: Map<number, (failed: boolean) => void>
  broken: boolean
}

export const makeEvaluationPool: Effect.Effect<EvaluationPool, never, Scope.Scope> = Effect.gen(function* () {
  const helpers: Array<Helper> = []
  let nextId = 0

  let helperShares = 0
  yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(helpers.map((h) => h.worker.terminate()))))

  const start = (): Helper => {
    const worker = new Worker(workerEntry("evaluation-worker", new URL("./evaluation-worker.mjs", import.meta.url)), {
      workerData: { role: "evaluation" }
    })
    // An idle helper does not keep the process alive.
    worker.unref()
    const helper: Helper = { worker, pending: new Map(), broken: false }
    const failAll = () => {
      helper.broken = true
      for (const resume of helper.pending.values()) resume(true)
      helper.pending.clear()
    }
    worker.on("message", (reply: ShareReply) => {
      const resume = helper.pending.get(reply.id)
      helper.pending.delete(reply.id)
      resume?.(reply.error !== undefined)
    })
    worker.on("error", failAll)
    worker.on("exit", failAll)
    return helper
  }

  /** Sends a share to a helper now; resolves with false once it computed it, true when it failed (not computed). */
  const send = (helper: Helper, share: Share) =>
    new Promise<boolean>((resolve) => {
      if (helper.broken) return resolve(true)
      const id = nextId++
      helper.pending.set(id, resolve)
      helper.worker.postMessage({ id, share } satisfies ShareRequest)
    })

  const predict = (prediction: Prediction, set: TaskBatch, wanted: number) =>
    Effect.gen(function* () {
      const N = set.size
      const count = Math.max(0, Math.min(wanted, Math.floor(N / MIN_SHARE) - 1))
      const { C, d } = set
      const shared = count > 0
      const logits = new Float64Array(shared ? new SharedArrayBuffer(N * C * 8) : new ArrayBuffer(N * C * 8))
      const jacobians = new Float64Array(shared ? new SharedArrayBuffer(N * C * d * 8) : new ArrayBuffer(N * C * d * 8))
      const bounds = Array.from({ length: count + 2 }, (_, i) => Math.round((i * N) / (count + 1)))
      const setId = setIdOf(set)
      const shareOf = (i: number): Share => ({ prediction, set, setId, from: bounds[i]!, to: bounds[i + 1]!, logits, jacobians })
      while (helpers.filter((h) => !h.broken).length < count) helpers.push(start())
      const working = helpers.filter((h) => !h.broken).slice(0, count)
      // The helpers' shares first, so that they work while this thread computes its own.
      const sent = working.map((helper, i) => send(helper, shareOf(i + 1)))
      computeShare(shareOf(0))
      const failed = yield* Effect.promise(() => Promise.all(sent))
      failed.forEach((lost, i) => {
        if (lost) computeShare(shareOf(i + 1))
        else helperShares += 1
      })
      return { logits, jacobians } satisfies Predictions
    })

  return { predict, helperShares: () => helperShares }
})
