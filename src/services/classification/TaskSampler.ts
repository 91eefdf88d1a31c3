/**
 * Task sampling: fresh training batches that are a pure function of (seed, step), and frozen evaluation and
 * grid-search sets, each fixed by its own seed and stream (so no set ever shares a task with another).
 */
import { Worker } from "node:worker_threads"
import { Effect, type Scope } from "effect"
import { type EvaluationShift, NO_SHIFT, type TaskConfig } from "../../domain/classification/Config.js"
import { canonicalJson } from "../../domain/ConfigSchema.js"
import { allocateBatch, sampleShiftedTasks, sampleTasks, type TaskBatch } from "../../domain/classification/Task.js"
import { type BatchMessage, type BatchWorkerInput, transferList } from "./BatchProtocol.js"
import { workerEntry } from "../WorkerEntry.js"

/** Consecutive training batches; `release` hands a batch's buffers back for reuse once it has been trained on. */
export interface BatchStream {
  readonly next: Effect.Effect<TaskBatch>
  /** The next batch if it is ready now, without waiting (the hot loop's fast path); else undefined. */
  readonly poll: () => TaskBatch | undefined
  readonly release: (batch: TaskBatch) => Effect.Effect<void>
}

/** Batches sampled on this thread, into one reused buffer. */
const inlineStream = (task: TaskConfig, seed: number, batchSize: number, firstStep: number): BatchStream => {
  const buffer = allocateBatch(batchSize, task.n, task.d, task.C)
  let step = firstStep
  const poll = () => sampleTasks(task, seed, "train", step++, batchSize, 0, buffer)
  return { next: Effect.sync(poll), poll, release: () => Effect.void }
}

/** One worker thread's share of the batches, in step order. */
const workerShare = (input: BatchWorkerInput) =>
  Effect.gen(function* () {
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => new Worker(workerEntry("batch-worker", new URL("./batch-worker.mjs", import.meta.url)), { workerData: input })),
      (w) => Effect.promise(() => w.terminate())
    )
    const ready: Array<BatchMessage> = []
    let waiting: ((message: BatchMessage) => void) | undefined
    let failure: unknown
    let failed: ((error: unknown) => void) | undefined
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
    const poll = () => ready.shift()
    const next = Effect.async<BatchMessage>((resume) => {
      const first = ready.shift()
      if (first) return resume(Effect.succeed(first))
      if (failure !== undefined) return resume(Effect.die(failure))
      waiting = (message) => resume(Effect.succeed(message))
      failed = (error) => resume(Effect.die(error))
    })
    const giveBack = (batch: TaskBatch) =>
      Effect.sync(() => {
        const returned = { x: batch.x, labels: batch.labels, query: batch.query, queryLabel: batch.queryLabel }
        worker.postMessage(returned, transferList(returned))
      })
    return { next, poll, giveBack }
  })


/**
 * Batches sampled ahead on worker threads, so that sampling overlaps training; with k workers, worker j samples the
 * steps firstStep + j, firstStep + j + k, …, and the stream takes them in turn.
 */
const workerStream = (
  request: Omit<BatchWorkerInput, "stride" | "firstStep" | "role"> & {
    readonly firstStep: number
    readonly threads: number
  }
): Effect.Effect<BatchStream, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { task, batchSize, threads } = request
    const shares = yield* Effect.forEach(Array.from({ length: threads }, (_, j) => j), (j) =>
      workerShare({ ...request, role: "batch-sampler", firstStep: request.firstStep + j, stride: threads })
    )
    let step = request.firstStep
    const owner = (s: number) => shares[(s - request.firstStep) % threads]!
    const owners = new Map<TaskBatch["x"], (typeof shares)[number]>()
    const accept = (m: BatchMessage, share: (typeof shares)[number]): TaskBatch => {
      if (m.step !== step) throw new Error(`batch worker sent step ${m.step}, expected ${step}`)
      owners.set(m.x, share)
      const batch = { size: batchSize, n: task.n, d: task.d, C: task.C, x: m.x, labels: m.labels, query: m.query, queryLabel: m.queryLabel }
      step += 1
      return batch
    }
    const poll = () => {
      const share = owner(step)
      const message = share.poll()
      return message === undefined ? undefined : accept(message, share)
    }
    const next = Effect.suspend(() => {
      const share = owner(step)
      return share.next.pipe(Effect.map((m) => accept(m, share)))
    })
    const release = (batch: TaskBatch) =>
      Effect.suspend(() => {
        const share = owners.get(batch.x)
        if (share === undefined) return Effect.void
        owners.delete(batch.x)
        return share.giveBack(batch)
      })
    return { next, poll, release } satisfies BatchStream
  })

export class TaskSampler extends Effect.Service<TaskSampler>()("icl-gd/TaskSampler", {
  sync: () => {
    // Frozen sets are shared by every run of a process (a sweep over seeds evaluates on the same tasks).
    const frozen = new Map<string, TaskBatch>()
    const isNeutral = (shift: EvaluationShift) => canonicalJson(shift) === canonicalJson(NO_SHIFT)
    const sample = (stream: "evaluation" | "grid", task: TaskConfig, seed: number, size: number, shift: EvaluationShift, shared: boolean) => {
      const into = allocateBatch(size, task.n, task.d, task.C, shared)
      return isNeutral(shift) ? sampleTasks(task, seed, stream, 0, size, 0, into) : sampleShiftedTasks(task, shift, seed, stream, size, into)
    }
    const frozenSet = (stream: "evaluation" | "grid", task: TaskConfig, seed: number, size: number, shift: EvaluationShift = NO_SHIFT) =>
      Effect.sync(() => {
        const key = canonicalJson(isNeutral(shift) ? { stream, task, seed, size } : { stream, task, seed, size, shift })
        let set = frozen.get(key)
        if (set === undefined) {
          // In shared memory: a worker thread (a grid search) reads the set without a copy of its own.
          set = sample(stream, task, seed, size, shift, true)
          frozen.set(key, set)
        }
        return set
      })
    return {
      /** The training batch of a step (1-based); the same (task, seed, step) always gives the same batch. */
      batch: (task: TaskConfig, seed: number, step: number, batchSize: number) =>
        Effect.sync(() => sampleTasks(task, seed, "train", step, batchSize)),
      /**
       * The batches of steps firstStep…lastStep in order, sampled ahead on `threads` worker threads (0: on this
       * thread). Every way gives the same batches.
       */
      stream: (
        task: TaskConfig,
        seed: number,
        batchSize: number,
        firstStep: number,
        lastStep: number,
        threads: number
      ): Effect.Effect<BatchStream, never, Scope.Scope> =>
        threads > 0 && lastStep >= firstStep
          ? workerStream({ task, seed, batchSize, firstStep, lastStep, depth: 2, threads })
          : Effect.sync(() => inlineStream(task, seed, batchSize, firstStep)),
      /** The frozen evaluation set, moved by `shift` (evaluation.shift) when one is given. */
      evaluationSet: (task: TaskConfig, seed: number, size: number, shift?: EvaluationShift) => frozenSet("evaluation", task, seed, size, shift),
      /** The frozen grid-search set for the GD references' grid-optimal parameters. */
      gridSet: (task: TaskConfig, seed: number, size: number) => frozenSet("grid", task, seed, size),
      /**
       * The same tasks as the frozen set of this stream and seed, sampled afresh and not kept: for sets used once (the
       * extra evaluation sets of evaluation.seeds, shifted sets), which would otherwise stay in memory all sweep long.
       */
      freshSet: (stream: "evaluation" | "grid", task: TaskConfig, seed: number, size: number, shift: EvaluationShift = NO_SHIFT) =>
        Effect.sync(() => sample(stream, task, seed, size, shift, false))
    } as const
  }
}) {}
