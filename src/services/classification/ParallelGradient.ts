/**
 * The fused engine's training gradient on every core: the training thread and `workers` worker threads sample and
 * differentiate the chunks of each step's batch (ChunkedGradient), sharing them through GradientProtocol's shared
 * memory. With `simd` (the compiled SIMD kernel) every thread computes its chunks in WebAssembly. The result is
 * bit-for-bit the same for any number of workers, zero included, with or without the SIMD kernel.
 */
import { Worker } from "node:worker_threads"
import { Effect, type Scope } from "effect"
import { type ChunkGradientInput, chunkCount, makeChunkGradient, partialStride, sumChunks } from "../../domain/classification/ChunkedGradient.js"
import type { Gradients } from "../../domain/classification/FusedGradient.js"
import type { Weights } from "../../domain/classification/Model.js"
import { workerEntry } from "../WorkerEntry.js"
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
import type { GradientWorkerInput } from "./GradientWorker.js"

export interface ParallelGradient {
  /** Worker threads besides the training thread. */
  readonly workers: number
  /** The mean loss of the training batch of `step` at `weights`, and its gradient (written into `grads`). */
  readonly lossAndGradient: (step: number, weights: Weights, grads: Gradients) => number
  /** Chunks computed so far by the worker threads (the rest by the training thread). */
  readonly workerChunks: () => number
}

export interface ParallelGradientInput extends ChunkGradientInput {
  readonly workers: number
  /** The compiled SIMD kernel (services/Kernels), or none to compute in JavaScript. */
  readonly simd?: WebAssembly.Module | undefined
}

const serial = (input: ParallelGradientInput): ParallelGradient => {
  const D = input.spec.d + input.spec.C
  const chunks = chunkCount(input.batchSize)
  const partials = new Float64Array(chunks * partialStride(D))
  const computeChunk = makeChunkGradient(input, partials, input.simd)
  return {
    workers: 0,
    lossAndGradient: (step, weights, grads) => {
      for (let c = 0; c < chunks; c++) computeChunk(weights, step, c)
      return sumChunks(partials, D, chunks, grads)
    },
    workerChunks: () => 0
  }
}

/** Starts the workers; closing the scope stops them. */
export const makeParallelGradient = (input: ParallelGradientInput): Effect.Effect<ParallelGradient, never, Scope.Scope> => {
  const chunks = chunkCount(input.batchSize)
  const workers = Math.min(input.workers, chunks - 1)
  if (workers <= 0 || chunks > MAX_CHUNKS) return Effect.succeed(serial(input))
  const D = input.spec.d + input.spec.C
  const buffers = {
    control: createControl(),
    weights: new SharedArrayBuffer(2 * D * D * Float64Array.BYTES_PER_ELEMENT),
    partials: new SharedArrayBuffer(chunks * partialStride(D) * Float64Array.BYTES_PER_ELEMENT)
  }
  const control = new Int32Array(buffers.control)
  const shared = new Float64Array(buffers.weights)
  const sharedWeights: Weights = { D, kq: shared.subarray(0, D * D), pv: shared.subarray(D * D) }
  const partials = new Float64Array(buffers.partials)
  const computeChunk = makeChunkGradient(input, partials, input.simd)
  const workerData: GradientWorkerInput = {
    role: "gradient-worker",
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
  const lossAndGradient = (step: number, weights: Weights, grads: Gradients): number => {
    sharedWeights.kq.set(weights.kq)
    sharedWeights.pv.set(weights.pv)
    generation = publishStep(control, step, generation)
    // Workers that have not started yet simply take no chunks: this thread computes whatever is left.
    for (let c = claimChunk(control, chunks); c >= 0; c = claimChunk(control, chunks)) {
      computeChunk(sharedWeights, step, c)
      finishChunk(control, chunks)
      ownChunks += 1
    }
    steps += 1
    if (!awaitChunks(control, chunks)) throw new GradientWorkerFailed(failure)
    return sumChunks(partials, D, chunks, grads)
  }
  return Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: workers }, () => {
        const thread = new Worker(workerEntry("gradient-worker", new URL("./gradient-worker.mjs", import.meta.url)), { workerData })
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
