import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CHUNK_TASKS, chunkCount, makeChunkGradient, partialStride, sumChunks } from "../../../src/domain/classification/ChunkedGradient.js"
import { makeFusedKernel } from "../../../src/domain/classification/FusedKernel.js"
import { copyWeights, initWeights } from "../../../src/domain/classification/Model.js"
import { sampleTasks } from "../../../src/domain/classification/Task.js"
import { makeParallelGradient } from "../../../src/services/classification/ParallelGradient.js"
import { FLOAT64_IDENTITY, relativeError, spec, task } from "../../helpers.js"

const ATTENTIONS = ["linear", "softmax", "exp"] as const

describe("chunked gradient", () => {
  it("the chunks' partials sum to the whole batch's loss and gradient, for batches that are not a multiple of the chunk", () => {
    for (const attention of ATTENTIONS) {
      for (const batchSize of [CHUNK_TASKS, 100]) {
        const s = spec(attention, 5, 4)
        const t = task({ d: 5, C: 4, n: 30 })
        const w = initWeights(s, 3, 0.5)
        const D = w.D
        const chunks = chunkCount(batchSize)
        const partials = new Float64Array(chunks * partialStride(D))
        const computeChunk = makeChunkGradient({ spec: s, task: t, seed: 11, batchSize }, partials)
        for (let c = chunks - 1; c >= 0; c--) computeChunk(w, 5, c)
        const summed = { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
        const loss = sumChunks(partials, D, chunks, summed)
        const whole = { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
        const wholeLoss = makeFusedKernel(s)(w, sampleTasks(t, 11, "train", 5, batchSize), whole)
        const what = `${attention}, batch ${batchSize}`
        assert.isBelow(Math.abs(loss - wholeLoss) / wholeLoss, FLOAT64_IDENTITY, `${what}: loss`)
        assert.isBelow(relativeError(summed.kq, whole.kq), FLOAT64_IDENTITY, `${what}: W_KQ gradient`)
        assert.isBelow(relativeError(summed.pv, whole.pv), FLOAT64_IDENTITY, `${what}: W_PV gradient`)
      }
    }
  })
})

describe("parallel gradient", () => {
  /** Losses and gradients of `steps` training batches, with the weights moved between steps as training would. */
  const trajectory = (workers: number, attention: (typeof ATTENTIONS)[number]) =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = spec(attention, 5, 4)
        const pool = yield* makeParallelGradient({ spec: s, task: task({ d: 5, C: 4, n: 40 }), seed: 2, batchSize: 200, workers })
        const w = copyWeights(initWeights(s, 1, 0.3))
        const grads = { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) }
        // Take steps until the workers have joined in (they take a moment to load), then record.
        for (let warm = 0; workers > 0 && pool.workerChunks() === 0; warm++) {
          assert.isBelow(warm, 5000, "the worker threads never took a chunk")
          pool.lossAndGradient(1, w, grads)
          yield* Effect.sleep(2)
        }
        const before = pool.workerChunks()
        const out: Array<number> = []
        for (let step = 1; step <= 20; step++) {
          out.push(pool.lossAndGradient(step, w, grads), ...grads.kq, ...grads.pv)
          for (let i = 0; i < w.kq.length; i++) {
            w.kq[i]! -= 0.1 * grads.kq[i]!
            w.pv[i]! -= 0.1 * grads.pv[i]!
          }
        }
        return { out, workerChunks: pool.workerChunks() - before }
      })
    )

  it.live("one or two worker threads give bit-for-bit the loss and gradient of the training thread alone", () =>
    Effect.gen(function* () {
      for (const attention of ATTENTIONS) {
        const alone = yield* trajectory(0, attention)
        for (const workers of [1, 2]) {
          const shared = yield* trajectory(workers, attention)
          assert.deepStrictEqual(shared.out, alone.out, `${attention}, ${workers} worker(s)`)
          assert.isAbove(shared.workerChunks, 0, `${attention}, ${workers} worker(s): the workers took part`)
        }
      }
    })
  , 60_000)
})
