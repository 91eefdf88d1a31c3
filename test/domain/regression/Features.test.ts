import { assert, describe, it } from "@effect/vitest"
import { type RegressionTaskConfig, regressionDefaults } from "../../../src/domain/regression/Config.js"
import { featureBatch, featureMapOf, throughFeatures } from "../../../src/domain/regression/FeatureMap.js"
import { posteriorMean } from "../../../src/domain/regression/KernelGd.js"
import { constructedWeights, embedBatch, makePredictor, predictBatch, type RegressionSpec } from "../../../src/domain/regression/Model.js"
import { sampleRegressionTasks, taskFeatureMap } from "../../../src/domain/regression/Task.js"
import { initRegressionWeights } from "../../../src/services/regression/Trainer.js"
import { centralDifferences, FINITE_DIFFERENCE, FLOAT64_IDENTITY, maxAbsDiff, relativeError } from "../../helpers.js"

const task = (overrides: Partial<RegressionTaskConfig> = {}): RegressionTaskConfig => ({
  ...regressionDefaults.task,
  family: "random-features",
  inputs: "cube",
  d: 3,
  n: 20,
  features: 8,
  ...overrides
})

describe("random-features tasks", () => {
  it("one feature map for every task, a function of its seed: φ(x) = tanh(U x + b) with the stated scales", () => {
    const map = featureMapOf(task({ d: 50, features: 400 }))
    // U_kj ~ N(0, g²/d), b_k ~ N(0, g²/3) with g = 2: sample variances of 20,000 and 400 draws within 4 standard errors.
    const variance = (a: Float64Array) => a.reduce((s, v) => s + v * v, 0) / a.length
    assert.approximately(variance(map.weights) / (4 / 50), 1, 4 * Math.sqrt(2 / 20000))
    assert.approximately(variance(map.bias) / (4 / 3), 1, 4 * Math.sqrt(2 / 400))
    assert.deepStrictEqual(taskFeatureMap(task()), featureMapOf(task()))
    assert.notDeepEqual(featureMapOf(task({ featureSeed: 1 })).weights, featureMapOf(task()).weights)
  })

  it("labels are linear in the features: with n ≥ m and no noise the posterior mean on φ(x) recovers every target", () => {
    const t = task()
    const batch = sampleRegressionTasks(t, 3, "evaluation", 0, 30)
    const features = featureBatch(taskFeatureMap(t), batch)
    assert.isBelow(maxAbsDiff(posteriorMean("linear", 1, 0, features).prediction, batch.target), 1e-8)
    // … but not in x: the posterior mean of a linear model on x misses them.
    assert.isAbove(maxAbsDiff(posteriorMean("linear", 1, 0, batch).prediction, batch.target), 0.05)
  })

  it("labels have variance E|φ(x)|²/m: y = w·φ(x)/√m with w ~ N(0, I_m) (within 4 standard errors)", () => {
    // Given x_q, y_q ~ N(0, |φ(x_q)|²/m); over 4000 tasks E[y²] is estimated within √(2/4000) ≈ 2.2% relative.
    const t = task()
    const batch = sampleRegressionTasks(t, 7, "evaluation", 0, 4000)
    const features = featureBatch(taskFeatureMap(t), batch)
    let squares = 0
    let expected = 0
    for (let i = 0; i < 4000; i++) {
      squares += batch.target[i]! ** 2
      for (let k = 0; k < 8; k++) expected += features.query[i * 8 + k]! ** 2
    }
    assert.approximately(squares / expected, 1, 4 * Math.sqrt(2 / 4000))
  })

  it("sensitivities taken back through the feature map match central differences in x_q", () => {
    const t = task({ n: 6 })
    const map = taskFeatureMap(t)
    const batch = sampleRegressionTasks(t, 4, "evaluation", 0, 5)
    const s: RegressionSpec = { activation: "linear", d: 8, depth: 2, recurrent: false }
    const weights = constructedWeights(s, [{ scale: 1, eta: 0.7, gamma: 0.1 }])
    const predict = () => predictBatch(s, weights, featureBatch(map, batch))
    const { sensitivity } = throughFeatures(map, batch, predict())
    const numeric = Float64Array.from(batch.query.keys(), (i) => centralDifferences(batch.query, () => predict().prediction[Math.floor(i / 3)]!, [i])[0]!)
    assert.isBelow(relativeError(sensitivity, numeric), FINITE_DIFFERENCE)
  })
})

describe("a model with an MLP embedding", () => {
  const spec = (activation: "tanh" | "relu", depth: number): RegressionSpec => ({
    activation: "softmax",
    d: 4,
    depth,
    recurrent: false,
    embedding: { inputs: 3, hidden: [7, 5], activation }
  })

  it("is the attention model on the embedded batch, and its ∂ŷ/∂x_q (through the MLP) matches central differences", () => {
    const t = task({ n: 6 })
    const batch = sampleRegressionTasks(t, 5, "evaluation", 0, 6)
    for (const activation of ["tanh", "relu"] as const) {
      for (const depth of [1, 3]) {
        const s = spec(activation, depth)
        const values = initRegressionWeights(s, 6, 0.3)
        const { prediction, sensitivity } = predictBatch(s, values, batch)
        const plain: RegressionSpec = { activation: "softmax", d: 4, depth, recurrent: false }
        const onFeatures = predictBatch(plain, values, embedBatch(s, values, batch), false).prediction
        assert.isBelow(maxAbsDiff(prediction, onFeatures), FLOAT64_IDENTITY, `${activation}, ${depth} layers`)
        const predict = makePredictor(s, t.n)
        const numeric = Float64Array.from(batch.query.keys(), (i) => centralDifferences(batch.query, () => predict(values, batch, Math.floor(i / 3)), [i])[0]!)
        assert.isBelow(relativeError(sensitivity, numeric), FINITE_DIFFERENCE, `${activation}, ${depth} layers`)
      }
    }
  })
})
