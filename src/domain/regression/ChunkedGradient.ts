/**
 * The K-layer engine's batch gradient as a sum over fixed chunks of tasks, in chunk order: a chunk's loss and gradient
 * are its share of the batch mean (DeepKernel with the batch's size), and the batch's are the chunks' added in order.
 * The chunking fixes the order of the gradient's sums, so the result does not depend on how the chunks are computed:
 * on one thread over a batch sampled whole (makeChunkedDeepKernel), or sampled and differentiated chunk by chunk by
 * several threads (makeRegressionChunkGradient, the unit of work of services/regression/ParallelGradient, as for the
 * classification engine's ChunkedGradient).
 */
import type { RegressionKernel } from "./DeepGradient.js"
import { makeDeepKernel } from "./DeepKernel.js"
import type { RegressionTaskConfig } from "./Config.js"
import { parameterCount, type RegressionSpec } from "./Model.js"
import { allocateRegressionBatch, regressionScratch, sampleRegressionTasksInto, sliceOfBatch } from "./Task.js"
import { keyedRng } from "../Rng.js"

/** Tasks per chunk. Fixed (not a setting) because it decides the order of the gradient's sums. */
export const REGRESSION_CHUNK_TASKS = 32

export const regressionChunkCount = (batchSize: number): number => Math.ceil(batchSize / REGRESSION_CHUNK_TASKS)

/** Loss and gradient of a whole batch, chunk by chunk (`grads` is overwritten). */
export const makeChunkedDeepKernel = (spec: RegressionSpec, n: number): RegressionKernel => {
  const kernel = makeDeepKernel(spec, n)
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
export const makeRegressionChunkGradient = ({ spec, task, seed, batchSize }: RegressionChunkInput, partials: Float64Array) => {
  const kernel = makeDeepKernel(spec, task.n)
  const stride = regressionPartialStride(spec)
  const P = stride - 1
  const chunks = regressionChunkCount(batchSize)
  const full = allocateRegressionBatch(Math.min(REGRESSION_CHUNK_TASKS, batchSize), task.n, task.d)
  const lastSize = batchSize - (chunks - 1) * REGRESSION_CHUNK_TASKS
  const last = lastSize === full.size ? full : allocateRegressionBatch(lastSize, task.n, task.d)
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
