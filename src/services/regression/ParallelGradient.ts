/**
 * The K-layer fused engine's training gradient on every core: the training thread and `workers` worker threads sample
 * and differentiate the chunks of each step's batch (regression/ChunkedGradient), sharing them through
 * GradientProtocol's shared memory. With `simd` (the compiled SIMD kernel) every thread computes its chunks in
 * WebAssembly where the kernel covers the model. The result is bit-for-bit the same for any number of workers, zero
 * included, with or without the SIMD kernel, and the same as the K-layer kernel over the whole batch sampled at once.
 */
import { Worker } from "node:worker_threads"
import { Effect, type Scope } from "effect"
import {
  makeRegressionChunkGradient,
  type RegressionChunkInput,
  regressionChunkCount,
  regressionPartialStride,
  sumRegressionChunks
} from "../../domain/regression/ChunkedGradient.js"
import { parameterCount } from "../../domain/regression/Model.js"
import {
  awaitChunks,
  claimChunk,
  createControl,
  finishChunk,
  GradientWorkerFailed,
  MAX_CHUNKS,
  publishStep,
  reportFailure,
  stopWorkers
} from "../GradientProtocol.js"
import { workerEntry } from "../WorkerEntry.js"
import type { RegressionGradientWorkerInput } from "./GradientWorker.js"

export interface RegressionParallelGradient {
  /** Worker threads besides the training thread. */
  readonly workers: number
  /** The mean loss of the training batch of `step` at `params`, and its gradient (written into `grads`). */
  readonly lossAndGradient: (step: number, params: Float64Array, grads: Float64Array) => number
  /** Chunks computed so far by the worker threads (the rest by the training thread). */
  readonly workerChunks: () => number
}

export interface RegressionParallelInput extends RegressionChunkInput {
  /** Worker threads besides the training thread. */
  readonly workers: number
  /** The compiled SIMD kernel (services/Kernels), or none to compute in JavaScript. */
  readonly simd?: WebAssembly.Module | undefined
}

const serial = (input: RegressionParallelInput): RegressionParallelGradient => {
  const chunks = regressionChunkCount(input.batchSize)
  const partials = new Float64Array(chunks * regressionPartialStride(input.spec))
  const computeChunk = makeRegressionChunkGradient(input, partials, input.simd)
  return {
    workers: 0,
    lossAndGradient: (step, params, grads) => {
      for (let c = 0; c < chunks; c++) computeChunk(params, step, c)
      return sumRegressionChunks(partials, input.spec, chunks, grads)
    },
    workerChunks: () => 0
  }
}

/** Starts the workers; closing the scope stops them. */
export const makeRegressionParallelGradient = (
  input: RegressionParallelInput
): Effect.Effect<RegressionParallelGradient, never, Scope.Scope> => {
  const chunks = regressionChunkCount(input.batchSize)
  const workers = Math.min(input.workers, chunks - 1)
  if (workers <= 0 || chunks > MAX_CHUNKS) return Effect.succeed(serial(input))
  const buffers = {
    control: createControl(),
    weights: new SharedArrayBuffer(parameterCount(input.spec) * Float64Array.BYTES_PER_ELEMENT),
    partials: new SharedArrayBuffer(chunks * regressionPartialStride(input.spec) * Float64Array.BYTES_PER_ELEMENT)
  }
  const control = new Int32Array(buffers.control)
  const shared = new Float64Array(buffers.weights)
  const partials = new Float64Array(buffers.partials)
  const computeChunk = makeRegressionChunkGradient(input, partials, input.simd)
  const workerData: RegressionGradientWorkerInput = {
    role: "regression-gradient-worker",
    spec: input.spec,
    task: input.task,
    seed: input.seed,
    batchSize: input.batchSize,
    simd: input.simd,
    ...buffers
  }
  let generation = 0
  let steps = 0
  let ownChunks = 0
  let failure: unknown
  const lossAndGradient = (step: number, params: Float64Array, grads: Float64Array): number => {
    shared.set(params)
    generation = publishStep(control, step, generation)
    // Workers that have not started yet simply take no chunks: this thread computes whatever is left.
    for (let c = claimChunk(control, chunks); c >= 0; c = claimChunk(control, chunks)) {
      computeChunk(shared, step, c)
      finishChunk(control, chunks)
      ownChunks += 1
    }
    steps += 1
    if (!awaitChunks(control, chunks)) throw new GradientWorkerFailed(failure)
    return sumRegressionChunks(partials, input.spec, chunks, grads)
  }
  return Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: workers }, () => {
        const thread = new Worker(workerEntry("regression-gradient-worker", new URL("./gradient-worker.mjs", import.meta.url)), { workerData })
        // A worker that fails (at load, or holding a chunk) fails the next step instead of the process.
        thread.on("error", (error) => {
          failure = error
          reportFailure(control)
        })
        return thread
      })
    ),
    (threads) =>
      Effect.promise(async () => {
        stopWorkers(control)
        await Promise.all(threads.map((thread) => thread.terminate()))
      })
  ).pipe(Effect.as({ workers, lossAndGradient, workerChunks: () => steps * chunks - ownChunks }))
}
