/**
 * The K-layer engine's batch gradient as a sum over fixed chunks of tasks, in chunk order: a chunk's loss and gradient
 * are its share of the batch mean (DeepKernel with the batch's size), and the batch's are the chunks' added in order.
 * The chunking fixes the order of the gradient's sums, so the result does not depend on how the chunks are computed
 * (the unit of work that threads can share, as for the classification engine's ChunkedGradient).
 */
import type { RegressionKernel } from "./DeepGradient.js"
import { makeDeepKernel } from "./DeepKernel.js"
import type { RegressionSpec } from "./Model.js"
import { sliceOfBatch } from "./Task.js"

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
