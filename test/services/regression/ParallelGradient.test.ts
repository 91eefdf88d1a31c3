import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  makeChunkedDeepKernel,
  makeRegressionChunkGradient,
  REGRESSION_CHUNK_TASKS,
  regressionChunkCount,
  regressionPartialStride,
  sumRegressionChunks
} from "../../../src/domain/regression/ChunkedGradient.js"
import { type RegressionTaskConfig, regressionDefaults } from "../../../src/domain/regression/Config.js"
import type { RegressionSpec } from "../../../src/domain/regression/Model.js"
import { sampleRegressionTasks } from "../../../src/domain/regression/Task.js"
import { makeRegressionParallelGradient } from "../../../src/services/regression/ParallelGradient.js"
import { initRegressionWeights } from "../../../src/services/regression/Trainer.js"
import { regressionKernel } from "../../../src/services/Kernels.js"

const task: RegressionTaskConfig = { ...regressionDefaults.task, inputs: "cube", d: 4, n: 9 }
const spec = (activation: RegressionSpec["activation"], depth: number): RegressionSpec => ({ activation, d: 4, depth, recurrent: false })

describe("regression chunked gradient", () => {
  it("chunks sampled one by one, in any order, sum to the kernel over the batch sampled whole, bit for bit", () => {
    for (const activation of ["linear", "softmax"] as const) {
      for (const batchSize of [REGRESSION_CHUNK_TASKS, 100]) {
        const s = spec(activation, 3)
        const values = initRegressionWeights(s, 3, 0.3)
        const chunks = regressionChunkCount(batchSize)
        const partials = new Float64Array(chunks * regressionPartialStride(s))
        const computeChunk = makeRegressionChunkGradient({ spec: s, task, seed: 11, batchSize }, partials)
        for (let c = chunks - 1; c >= 0; c--) computeChunk(values, 5, c)
        const summed = new Float64Array(values.length)
        const loss = sumRegressionChunks(partials, s, chunks, summed)
        const whole = new Float64Array(values.length)
        const wholeLoss = makeChunkedDeepKernel(s, task.n)(values, sampleRegressionTasks(task, 11, "train", 5, batchSize), whole)
        assert.strictEqual(loss, wholeLoss, `${activation}, batch ${batchSize}: loss`)
        assert.deepStrictEqual(summed, whole, `${activation}, batch ${batchSize}: gradient`)
      }
    }
  })
})

describe("regression parallel gradient", () => {
  /** As for the classification engine: steps until the workers have computed chunks of the recorded steps. */
  const trajectory = (workers: number, activation: "linear" | "softmax", minSteps: number, simd?: WebAssembly.Module) =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = spec(activation, 3)
        const pool = yield* makeRegressionParallelGradient({ spec: s, task, seed: 2, batchSize: 200, workers, simd })
        const values = initRegressionWeights(s, 1, 0.2)
        const grads = new Float64Array(values.length)
        const out: Array<number> = []
        let step = 0
        while (step < minSteps || (workers > 0 && pool.workerChunks() === 0)) {
          step += 1
          out.push(pool.lossAndGradient(step, values, grads), ...grads)
          for (let i = 0; i < values.length; i++) values[i]! -= 0.05 * grads[i]!
          if (workers > 0 && pool.workerChunks() === 0) yield* Effect.sleep(1)
        }
        return { out, steps: step, workerChunks: pool.workerChunks() }
      })
    )

  it.live("one or two worker threads give bit-for-bit the loss and gradient of the training thread alone", () =>
    Effect.gen(function* () {
      for (const activation of ["linear", "softmax"] as const) {
        for (const workers of [1, 2]) {
          const shared = yield* trajectory(workers, activation, 10)
          const alone = yield* trajectory(0, activation, shared.steps)
          assert.deepStrictEqual(shared.out, alone.out, `${activation}, ${workers} worker(s), ${shared.steps} steps`)
          assert.isAbove(shared.workerChunks, 0, `${activation}, ${workers} worker(s): the workers took part`)
        }
      }
    })
  )

  it.live("with the SIMD kernel on every thread, the same bits as JavaScript on the training thread alone", () =>
    Effect.gen(function* () {
      const load = regressionKernel()
      if (!load.loaded) return assert.fail(`the regression SIMD kernel did not load: ${load.reason}`)
      const shared = yield* trajectory(1, "linear", 10, load.module)
      const alone = yield* trajectory(0, "linear", shared.steps)
      assert.deepStrictEqual(shared.out, alone.out, `${shared.steps} steps`)
      assert.isAbove(shared.workerChunks, 0, "the worker took part")
    })
  )
})
