/**
 * Task sampling: fresh training batches that are a pure function of (seed, step), and frozen evaluation and
 * grid-search sets, each fixed by its own seed and stream (so no set ever shares a task with another).
 */
import { Worker } from "node:worker_threads"
import { Effect, type Scope } from "effect"
import { canonicalJson, type TaskConfig } from "../domain/Config.js"
import { allocateBatch, sampleTasks, type TaskBatch } from "../domain/Task.js"
import { type BatchMessage, type BatchWorkerInput, transferList } from "./BatchWorker.js"

/** Consecutive training batches; `release` hands a batch's buffers back for reuse once it has been trained on. */
export interface BatchStream {
  readonly next: Effect.Effect<TaskBatch>
  readonly release: (batch: TaskBatch) => Effect.Effect<void>
}

/** Batches sampled on this thread, into one reused buffer. */
const inlineStream = (task: TaskConfig, seed: number, batchSize: number, firstStep: number): BatchStream => {
  const buffer = allocateBatch(batchSize, task.n, task.d, task.C)
  let step = firstStep
  return {
    next: Effect.sync(() => sampleTasks(task, seed, "train", step++, batchSize, 0, buffer)),
    release: () => Effect.void
  }
}

/** Batches sampled ahead on a worker thread, so sampling overlaps training on a second core. */
const workerStream = (input: BatchWorkerInput): Effect.Effect<BatchStream, never, Scope.Scope> =>
  Effect.gen(function* () {
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => new Worker(new URL("./batch-worker.mjs", import.meta.url), { workerData: input })),
      (w) => Effect.promise(() => w.terminate())
    )
    const { task, batchSize } = input
    const ready: Array<BatchMessage> = []
    let waiting: ((message: BatchMessage) => void) | undefined
    let failure: unknown
    let failed: ((error: unknown) => void) | undefined
    let expected = input.firstStep
    worker.on("message", (message: BatchMessage) => {
      if (waiting) {
        const resume = waiting
        waiting = undefined
        resume(message)
      } else ready.push(message)
    })
    worker.on("error", (error) => {
      failure = error
      failed?.(error)
    })
    const toBatch = (m: BatchMessage): TaskBatch => {
      if (m.step !== expected) throw new Error(`batch worker sent step ${m.step}, expected ${expected}`)
      expected += 1
      return { size: batchSize, n: task.n, d: task.d, C: task.C, x: m.x, labels: m.labels, query: m.query, queryLabel: m.queryLabel }
    }
    const next = Effect.async<TaskBatch>((resume) => {
      const first = ready.shift()
      if (first) return resume(Effect.sync(() => toBatch(first)))
      if (failure !== undefined) return resume(Effect.die(failure))
      waiting = (message) => resume(Effect.sync(() => toBatch(message)))
      failed = (error) => resume(Effect.die(error))
    })
    const release = (batch: TaskBatch) =>
      Effect.sync(() => {
        const returned = { x: batch.x, labels: batch.labels, query: batch.query, queryLabel: batch.queryLabel }
        worker.postMessage(returned, transferList(returned))
      })
    return { next, release } satisfies BatchStream
  })

export class TaskSampler extends Effect.Service<TaskSampler>()("icl-gd/TaskSampler", {
  sync: () => {
    // Frozen sets are shared by every run of a process (a sweep over seeds evaluates on the same tasks).
    const frozen = new Map<string, TaskBatch>()
    const frozenSet = (stream: "evaluation" | "grid", task: TaskConfig, seed: number, size: number) =>
      Effect.sync(() => {
        const key = canonicalJson({ stream, task, seed, size })
        let set = frozen.get(key)
        if (set === undefined) {
          set = sampleTasks(task, seed, stream, 0, size)
          frozen.set(key, set)
        }
        return set
      })
    return {
      /** The training batch of a step (1-based); the same (task, seed, step) always gives the same batch. */
      batch: (task: TaskConfig, seed: number, step: number, batchSize: number) =>
        Effect.sync(() => sampleTasks(task, seed, "train", step, batchSize)),
      /**
       * The batches of steps firstStep…lastStep in order, sampled ahead on a worker thread when `prefetch` is set;
       * both ways give the same batches.
       */
      stream: (
        task: TaskConfig,
        seed: number,
        batchSize: number,
        firstStep: number,
        lastStep: number,
        prefetch: boolean
      ): Effect.Effect<BatchStream, never, Scope.Scope> =>
        prefetch && lastStep >= firstStep
          ? workerStream({ task, seed, batchSize, firstStep, lastStep, depth: 3 })
          : Effect.sync(() => inlineStream(task, seed, batchSize, firstStep)),
      /** The frozen evaluation set. */
      evaluationSet: (task: TaskConfig, seed: number, size: number) => frozenSet("evaluation", task, seed, size),
      /** The frozen grid-search set for the GD references' grid-optimal parameters. */
      gridSet: (task: TaskConfig, seed: number, size: number) => frozenSet("grid", task, seed, size)
    } as const
  }
}) {}
