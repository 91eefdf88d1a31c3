import { assert, describe, it } from "@effect/vitest"
import { type RegressionActivation, type RegressionTaskConfig, regressionDefaults } from "../../../src/domain/regression/Config.js"
import { makeDeepGradient } from "../../../src/domain/regression/DeepGradient.js"
import { predictBatch, type RegressionSpec, squaredLoss } from "../../../src/domain/regression/Model.js"
import { sampleRegressionTasks } from "../../../src/domain/regression/Task.js"
import { initRegressionWeights } from "../../../src/services/regression/Trainer.js"
import { centralDifferences, FINITE_DIFFERENCE, FLOAT64_IDENTITY, relativeError } from "../../helpers.js"

const ACTIVATIONS: ReadonlyArray<RegressionActivation> = ["linear", "relu", "exp", "softmax"]
const gpTask: RegressionTaskConfig = { ...regressionDefaults.task, family: "gp", kernel: "exp", inputs: "sphere", d: 3, n: 7 }

describe("K-layer fused gradient", () => {
  it("matches central differences of the float64 loss, K = 1…5, every activation, recurrent or not", () => {
    const batch = sampleRegressionTasks(gpTask, 3, "train", 1, 6)
    for (let K = 1; K <= 5; K++) {
      for (const activation of ACTIVATIONS) {
        for (const recurrent of [false, true]) {
          const s: RegressionSpec = { activation, d: 3, depth: K, recurrent }
          const values = initRegressionWeights(s, 10 + K, activation === "exp" ? 0.05 : 0.3)
          const grads = new Float64Array(values.length)
          const loss = makeDeepGradient(s, gpTask.n)(values, batch, grads)
          const lossOf = () => squaredLoss(predictBatch(s, values, batch, false).prediction, batch.target)
          assert.approximately(loss, lossOf(), FLOAT64_IDENTITY * Math.max(1, loss), `${activation} K=${K} recurrent=${recurrent}`)
          const numeric = centralDifferences(values, lossOf)
          assert.isBelow(relativeError(grads, numeric), FINITE_DIFFERENCE, `${activation} K=${K} recurrent=${recurrent}`)
        }
      }
    }
  })
})

describe("generated K-layer kernel", () => {
  it("equals the reference to rounding, K = 1…5, every activation, recurrent or not, d = 3 and 10", async () => {
    const { makeDeepKernel } = await import("../../../src/domain/regression/DeepKernel.js")
    for (const task of [gpTask, { ...regressionDefaults.task, inputs: "cube" as const, d: 10, n: 10 }]) {
      const batch = sampleRegressionTasks(task, 4, "train", 2, 9)
      for (let K = 1; K <= 5; K++) {
        for (const activation of ACTIVATIONS) {
          for (const recurrent of [false, true]) {
            const s: RegressionSpec = { activation, d: task.d, depth: K, recurrent }
            const values = initRegressionWeights(s, 20 + K, activation === "exp" ? 0.05 : 0.3)
            const expected = new Float64Array(values.length)
            const actual = new Float64Array(values.length)
            const lossExpected = makeDeepGradient(s, task.n)(values, batch, expected)
            const lossActual = makeDeepKernel(s, task.n)(values, batch, actual)
            const what = `${activation} K=${K} recurrent=${recurrent} d=${task.d}`
            assert.approximately(lossActual, lossExpected, FLOAT64_IDENTITY * Math.max(1, lossExpected), what)
            assert.isBelow(relativeError(actual, expected), FLOAT64_IDENTITY, what)
          }
        }
      }
    }
  })
})
