/**
 * The training batch of a step cut into fixed chunks of tasks, each sampled and differentiated on its own: the unit of
 * work that threads share. A chunk's loss and gradient are its share of the batch mean, and the batch's are the sum of
 * the chunks' in chunk order, so every bit of a step is the same however many threads computed it and whichever
 * thread took which chunk. Sampling a chunk right before its kernel also keeps its tasks in cache.
 */
import type { TaskConfig } from "./Config.js"
import type { Gradients } from "./FusedGradient.js"
import { makeFusedKernel } from "./FusedKernel.js"
import type { ModelSpec, Weights } from "./Model.js"
import { simdChunks } from "./SimdKernel.js"
import { allocateBatch, sampleTasks } from "./Task.js"

/**
 * Tasks per chunk. Fixed (not a setting) because the chunking decides the order of the gradient's sums; 32 tasks
 * (about 0.3 ms of work at n = 100) keep the threads balanced to within one chunk at batch 128 and up.
 */
export const CHUNK_TASKS = 32

export const chunkCount = (batchSize: number): number => Math.ceil(batchSize / CHUNK_TASKS)

/** Float64 entries per chunk in a partials buffer: W_KQ's gradient, W_PV's gradient, the loss. */
export const partialStride = (D: number): number => 2 * D * D + 1

/** A partials buffer's chunk views: the gradient each chunk writes and where its loss goes. */
const chunkViews = (partials: Float64Array, D: number, chunks: number) =>
  Array.from({ length: chunks }, (_, c) => {
    const base = c * partialStride(D)
    return {
      grads: { kq: partials.subarray(base, base + D * D), pv: partials.subarray(base + D * D, base + 2 * D * D) },
      loss: base + 2 * D * D
    }
  })

export interface ChunkGradientInput {
  readonly spec: ModelSpec
  readonly task: TaskConfig
  readonly seed: number
  readonly batchSize: number
}

/**
 * A function that samples chunk `chunk` of the training batch of `step` and writes its loss and gradient at `weights`
 * into its slot of `partials` (a buffer of chunkCount(batchSize) · partialStride(D) entries, fixed per function).
 * With `simd` (the compiled kernel module, services/Kernels), the chunk is sampled and differentiated in WebAssembly
 * (SimdKernel); without, in JavaScript (Task.sampleTasks, FusedKernel). Both write the same bits.
 */
export const makeChunkGradient = ({ spec, task, seed, batchSize }: ChunkGradientInput, partials: Float64Array, simd?: WebAssembly.Module) => {
  const D = spec.d + spec.C
  const chunks = chunkCount(batchSize)
  const views = chunkViews(partials, D, chunks)
  const sizeOf = (chunk: number) => Math.min(CHUNK_TASKS, batchSize - chunk * CHUNK_TASKS)
  if (simd !== undefined) {
    const kernel = simdChunks(simd, spec, task, Math.min(CHUNK_TASKS, batchSize))
    return (weights: Weights, step: number, chunk: number): void => {
      const view = views[chunk]!
      kernel.sample(seed, "train", step, chunk * CHUNK_TASKS, sizeOf(chunk))
      partials[view.loss] = kernel.lossAndGradient(weights, sizeOf(chunk), batchSize, view.grads)
    }
  }
  const kernel = makeFusedKernel(spec)
  const full = allocateBatch(Math.min(CHUNK_TASKS, batchSize), task.n, task.d, task.C)
  const lastSize = sizeOf(chunks - 1)
  const last = lastSize === full.size ? full : allocateBatch(lastSize, task.n, task.d, task.C)
  return (weights: Weights, step: number, chunk: number): void => {
    const batch = chunk === chunks - 1 ? last : full
    sampleTasks(task, seed, "train", step, batch.size, chunk * CHUNK_TASKS, batch)
    const view = views[chunk]!
    partials[view.loss] = kernel(weights, batch, view.grads, batchSize)
  }
}

/** The batch's gradient (into `grads`) and mean loss: the chunks' partials summed in chunk order. */
export const sumChunks = (partials: Float64Array, D: number, chunks: number, grads: Gradients): number => {
  const stride = partialStride(D)
  const size = D * D
  grads.kq.set(partials.subarray(0, size))
  grads.pv.set(partials.subarray(size, 2 * size))
  let loss = partials[2 * size]!
  for (let c = 1; c < chunks; c++) {
    const base = c * stride
    for (let i = 0; i < size; i++) {
      grads.kq[i]! += partials[base + i]!
      grads.pv[i]! += partials[base + size + i]!
    }
    loss += partials[base + 2 * size]!
  }
  return loss
}
