/**
 * The K-layer engine's batch gradient as a sum over fixed chunks of tasks, in chunk order: a chunk's loss and gradient
 * are its share of the batch mean (DeepKernel with the batch's size), and the batch's are the chunks' added in order.
 * The chunking fixes the order of the gradient's sums, so the result does not depend on how the chunks are computed:
 * on one thread over a batch sampled whole (makeChunkedDeepKernel), or sampled and differentiated chunk by chunk by
 * several threads (makeRegressionChunkGradient, the unit of work of services/regression/ParallelGradient, as for the
 * classification engine's ChunkedGradient).
 *
 * With `simd` (the compiled kernel module, services/Kernels) a chunk of a model the SIMD kernel covers (SimdKernel:
 * every model without an embedding) is differentiated in WebAssembly, sampled straight into the kernel's memory;
 * otherwise in JavaScript (DeepKernel). Both write the same bits.
 */
import type { RegressionKernel } from "./DeepGradient.js"
import { makeDeepKernel } from "./DeepKernel.js"
import { simdCovers, type SimdDeepKernel, simdDeepKernel } from "./SimdKernel.js"
import type { RegressionTaskConfig } from "./Config.js"
import { parameterCount, type RegressionSpec } from "./Model.js"
import { allocateRegressionBatch, type RegressionBatch, regressionScratch, sampleRegressionTasksInto, sliceOfBatch } from "./Task.js"
import { keyedRng } from "../Rng.js"

/** Tasks per chunk. Fixed (not a setting) because it decides the order of the gradient's sums. */
export const REGRESSION_CHUNK_TASKS = 32

export const regressionChunkCount = (batchSize: number): number => Math.ceil(batchSize / REGRESSION_CHUNK_TASKS)

/** A kernel for part of a batch: its tasks' loss and gradient as their share of a batch of `batchSize`. */
type ChunkKernel = ((params: Float64Array, batch: RegressionBatch, grads: Float64Array, batchSize?: number) => number) & {
  readonly inPlace?: SimdDeepKernel["inPlace"]
}

/** What differentiates a model's chunks: the SIMD kernel when it is given and covers the model, else JavaScript. */
export const deepKernelKind = (spec: RegressionSpec, simd: WebAssembly.Module | undefined): "wasm-simd" | "javascript" =>
  simd !== undefined && simdCovers(spec) ? "wasm-simd" : "javascript"

/** The K-layer kernel for chunks of up to REGRESSION_CHUNK_TASKS tasks, in WebAssembly or JavaScript (deepKernelKind). */
const chunkKernel = (spec: RegressionSpec, n: number, simd: WebAssembly.Module | undefined): ChunkKernel =>
  deepKernelKind(spec, simd) === "wasm-simd" ? simdDeepKernel(simd!, spec, n, REGRESSION_CHUNK_TASKS) : makeDeepKernel(spec, n)

/** Loss and gradient of a whole batch, chunk by chunk (`grads` is overwritten). */
export const makeChunkedDeepKernel = (spec: RegressionSpec, n: number, simd?: WebAssembly.Module): RegressionKernel => {
  const kernel = chunkKernel(spec, n, simd)
  let partial = new Float64Array(0)
  return (params, batch, grads) => {
    if (partial.length !== grads.length) partial = new Float64Array(grads.length)
    grads.fill(0)
    let loss = 0
    for (let c = 0; c < regressionChunkCount(batch.size); c++) {
      loss += kernel(params, sliceOfBatch(batch, c * REGRESSION_CHUNK_TASKS, REGRESSION_CHUNK_TASKS), partial, batch.size)
      for (let i = 0; i < grads.length; i++) grads[i]! += partial[i]!
    }
    return loss
  }
}

/** Float64 entries per chunk in a partials buffer: the gradient (laid out like the parameters), then the loss. */
export const regressionPartialStride = (spec: RegressionSpec): number => parameterCount(spec) + 1

export interface RegressionChunkInput {
  readonly spec: RegressionSpec
  readonly task: RegressionTaskConfig
  readonly seed: number
  readonly batchSize: number
}

/**
 * A function that samples chunk `chunk` of the training batch of `step` and writes its loss and gradient at `params`
 * into its slot of `partials` (regressionChunkCount(batchSize) · regressionPartialStride(spec) entries).
 */
export const makeRegressionChunkGradient = (
  { spec, task, seed, batchSize }: RegressionChunkInput,
  partials: Float64Array,
  simd?: WebAssembly.Module
) => {
  const kernel = chunkKernel(spec, task.n, simd)
  const stride = regressionPartialStride(spec)
  const P = stride - 1
  const chunks = regressionChunkCount(batchSize)
  // With the SIMD kernel the sampler writes the chunk's tasks into the kernel's memory.
  const allocate = (size: number) => (kernel.inPlace === undefined ? allocateRegressionBatch(size, task.n, task.d) : kernel.inPlace(size))
  const full = allocate(Math.min(REGRESSION_CHUNK_TASKS, batchSize))
  const lastSize = batchSize - (chunks - 1) * REGRESSION_CHUNK_TASKS
  const last = lastSize === full.size ? full : allocate(lastSize)
  const scratch = regressionScratch(task)
  const rng = keyedRng(seed, "train", 0)
  return (params: Float64Array, step: number, chunk: number): void => {
    const batch = chunk === chunks - 1 ? last : full
    sampleRegressionTasksInto(task, seed, "train", step, batch, chunk * REGRESSION_CHUNK_TASKS, scratch, rng)
    const base = chunk * stride
    partials[base + P] = kernel(params, batch, partials.subarray(base, base + P), batchSize)
  }
}

/** The batch's gradient (into `grads`) and mean loss: the chunks' partials added in chunk order. */
export const sumRegressionChunks = (partials: Float64Array, spec: RegressionSpec, chunks: number, grads: Float64Array): number => {
  const stride = regressionPartialStride(spec)
  const P = stride - 1
  grads.fill(0)
  let loss = 0
  for (let c = 0; c < chunks; c++) {
    const base = c * stride
    for (let i = 0; i < P; i++) grads[i]! += partials[base + i]!
    loss += partials[base + P]!
  }
  return loss
}
