import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CHUNK_TASKS, chunkCount, makeChunkGradient, partialStride, sumChunks } from "../../../src/domain/classification/ChunkedGradient.js"
import { makeFusedKernel } from "../../../src/domain/classification/FusedKernel.js"
import { copyWeights, initWeights } from "../../../src/domain/classification/Model.js"
import { sampleTasks } from "../../../src/domain/classification/Task.js"
import { makeParallelGradient } from "../../../src/services/classification/ParallelGradient.js"
import { classificationKernel } from "../../../src/services/Kernels.js"
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
  /**
   * Losses and gradients of training steps 1, 2, …, with the weights moved between steps as training would: at least
   * `minSteps` of them, and with workers, as many more as it takes until the workers have computed chunks of the recorded
   * steps (a busy machine may keep a thread off the CPU for a while: the test waits for it, not for a number of steps).
   */
  const trajectory = (workers: number, attention: (typeof ATTENTIONS)[number], minSteps: number, simd?: WebAssembly.Module) =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = spec(attention, 5, 4)
        const pool = yield* makeParallelGradient({ spec: s, task: task({ d: 5, C: 4, n: 40 }), seed: 2, batchSize: 200, workers, simd })
        const w = copyWeights(initWeights(s, 1, 0.3))
        const grads = { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) }
        const out: Array<number> = []
        let step = 0
        while (step < minSteps || (workers > 0 && pool.workerChunks() === 0)) {
          step += 1
          out.push(pool.lossAndGradient(step, w, grads), ...grads.kq, ...grads.pv)
          for (let i = 0; i < w.kq.length; i++) {
            w.kq[i]! -= 0.1 * grads.kq[i]!
            w.pv[i]! -= 0.1 * grads.pv[i]!
          }
          // Until the workers have joined in, leave the CPU to them between steps (they start by loading the code).
          if (workers > 0 && pool.workerChunks() === 0) yield* Effect.sleep(1)
        }
        return { out, steps: step, workerChunks: pool.workerChunks() }
      })
    )

  it.live("one or two worker threads, in JavaScript or with the SIMD kernel, give bit-for-bit the loss and gradient of the training thread alone in JavaScript", () =>
    Effect.gen(function* () {
      const load = classificationKernel()
      if (!load.loaded) assert.fail(`the SIMD kernel did not load: ${load.reason}`)
      for (const attention of ATTENTIONS) {
        for (const [workers, simd] of [[1, undefined], [2, undefined], [0, load.module], [1, load.module], [2, load.module]] as const) {
          const what = `${attention}, ${workers} worker(s)${simd ? ", SIMD kernel" : ""}`
          const shared = yield* trajectory(workers, attention, 20, simd)
          const alone = yield* trajectory(0, attention, shared.steps)
          assert.strictEqual(alone.steps, shared.steps)
          assert.deepStrictEqual(shared.out, alone.out, `${what}, ${shared.steps} steps`)
          if (workers > 0) assert.isAbove(shared.workerChunks, 0, `${what}: the workers took part`)
        }
      }
    })
  )
})
