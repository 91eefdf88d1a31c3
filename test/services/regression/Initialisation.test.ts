import { assert, describe, it } from "@effect/vitest"
import { layerOffset, type RegressionSpec, trainableMask } from "../../../src/domain/regression/Model.js"
import { initRegressionWeights } from "../../../src/services/regression/Trainer.js"

const spec = (depth: number, form: "full" | "kernel" = "full", recurrent = false): RegressionSpec => ({
  activation: "linear",
  d: 10,
  depth,
  recurrent,
  form
})

describe("von Oswald et al.'s initialisation", () => {
  it("every entry of A = W_Kᵀ W_Q and P = W_O W_V has standard deviation initScale / (layers·√D), mean 0", () => {
    // 40 seeds × 2 layers × 2 matrices × 121 entries. An entry is a sum of D = 11 products of independent truncated
    // normals (kurtosis ≈ 3.2), so the sample standard deviation is within 4 standard errors (≈ 2%) of its value even
    // with the entries of one matrix sharing rows of W; 5% leaves room for that correlation.
    for (const depth of [2, 5]) {
      const s = spec(depth)
      let squares = 0
      let sum = 0
      let count = 0
      for (let seed = 0; seed < 40; seed++) {
        const values = initRegressionWeights(s, seed, 0.002, "von-oswald")
        for (let l = 0; l < 2; l++) {
          const base = layerOffset(s, l)
          for (let i = 0; i < 2 * 121; i++) {
            squares += values[base + i]! ** 2
            sum += values[base + i]!
            count += 1
          }
        }
      }
      const expected = 0.002 / (depth * Math.sqrt(11))
      assert.approximately(Math.sqrt(squares / count) / expected, 1, 0.05, `${depth} layers`)
      assert.approximately(sum / count / expected, 0, 0.05, `${depth} layers, mean`)
    }
  })

  it("is a function of the seed, differs from the other distributions, and keeps the kernel form's zeros", () => {
    const s = spec(3)
    assert.deepStrictEqual(initRegressionWeights(s, 4, 0.002, "von-oswald"), initRegressionWeights(s, 4, 0.002, "von-oswald"))
    assert.notDeepEqual(initRegressionWeights(s, 5, 0.002, "von-oswald"), initRegressionWeights(s, 4, 0.002, "von-oswald"))
    assert.notDeepEqual(initRegressionWeights(s, 4, 0.002, "truncated-normal"), initRegressionWeights(s, 4, 0.002, "von-oswald"))
    const kernel = spec(3, "kernel")
    const values = initRegressionWeights(kernel, 4, 0.002, "von-oswald")
    const mask = trainableMask(kernel)!
    values.forEach((v, i) => (mask[i] === 0 ? assert.strictEqual(v, 0) : assert.notStrictEqual(v, 0)))
    // A recurrent model has one layer's weights, scaled for the depth it is applied at.
    assert.strictEqual(initRegressionWeights(spec(3, "full", true), 4, 0.002, "von-oswald").length, 2 * 121)
  })
})
