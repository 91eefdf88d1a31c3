import { assert, describe, it } from "@effect/vitest"
import { initOptimizer, optimizerStep as classificationStep } from "../../src/domain/classification/Optimizer.js"
import { TRAINING_OPTION_DEFAULTS } from "../../src/domain/ConfigSchema.js"
import {
  clipGradients,
  gradientNorm,
  initVectorOptimizer,
  type OptimizerOptions,
  vectorOptimizerStep
} from "../../src/domain/Optimizer.js"
import { FLOAT64_IDENTITY } from "../helpers.js"

const options = (overrides: Partial<OptimizerOptions> = {}): OptimizerOptions => ({
  ...TRAINING_OPTION_DEFAULTS,
  optimizer: "adam",
  learningRate: 0.1,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  steps: 100,
  ...overrides
})

describe("gradient clipping", () => {
  it("rescales a gradient longer than c to norm c, over every block together, and leaves a shorter one alone", () => {
    // Blocks (3, 4) and (12): norm 13.
    const grads = [Float64Array.of(3, 4), Float64Array.of(12)]
    assert.strictEqual(clipGradients(grads, 26), 13)
    assert.deepStrictEqual(grads.map((g) => Array.from(g)), [[3, 4], [12]])
    assert.strictEqual(clipGradients(grads, 13), 13, "a norm equal to c is not changed")
    assert.deepStrictEqual(grads.map((g) => Array.from(g)), [[3, 4], [12]])
    assert.strictEqual(clipGradients(grads, 6.5), 13)
    // g · c/‖g‖ = g/2: every block scaled by the same factor.
    assert.deepStrictEqual(grads.map((g) => Array.from(g)), [[1.5, 2], [6]])
    assert.approximately(gradientNorm(grads), 6.5, FLOAT64_IDENTITY)
    assert.strictEqual(clipGradients(grads, null), 6.5, "null: no clipping")
    assert.deepStrictEqual(grads.map((g) => Array.from(g)), [[1.5, 2], [6]])
  })

  it("a step clips before the update: SGD without momentum moves by η·c·g/‖g‖", () => {
    const w = Float64Array.of(1, 1)
    const g = Float64Array.of(30, 40)
    vectorOptimizerStep(w, g, initVectorOptimizer(2), options({ optimizer: "sgd", momentum: 0, clipGradientNorm: 5 }))
    // g clipped to (3, 4); w ← w − 0.1·(3, 4).
    assert.approximately(w[0]!, 0.7, FLOAT64_IDENTITY)
    assert.approximately(w[1]!, 0.6, FLOAT64_IDENTITY)
  })
})

describe("optimizers", () => {
  it("Adam at the defaults is bit-for-bit the update written out by hand (the update before schedules existed)", () => {
    const opts = options()
    const w = Float64Array.of(0.5, -0.25)
    const state = initVectorOptimizer(2)
    const expected = Array.from(w)
    const m = [0, 0]
    const v = [0, 0]
    const gradients = [
      [0.3, -0.1],
      [0.2, 0.4],
      [-0.5, 0.05]
    ]
    gradients.forEach((g, s) => {
      const t = s + 1
      for (let i = 0; i < 2; i++) {
        m[i] = 0.9 * m[i]! + (1 - 0.9) * g[i]!
        v[i] = 0.999 * v[i]! + (1 - 0.999) * g[i]! * g[i]!
        expected[i]! -= (0.1 * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8)
      }
      vectorOptimizerStep(w, Float64Array.from(g), state, opts)
    })
    assert.deepStrictEqual(Array.from(w), expected)
    assert.strictEqual(state.step, 3)
  })

  it("Adam follows the schedule: the first step of a warm-up moves each weight by about η/W", () => {
    // With m̂ = g and v̂ = g² at t = 1, Adam's first step is rate · sign(g) (up to ε).
    const w = Float64Array.of(0, 0)
    vectorOptimizerStep(w, Float64Array.of(2, -3), initVectorOptimizer(2), options({ warmupSteps: 10 }))
    assert.approximately(w[0]!, -0.01, 1e-9)
    assert.approximately(w[1]!, 0.01, 1e-9)
  })

  it("SGD with momentum: m ← μm + g, w ← w − η_t m, with the rate of each step's schedule", () => {
    const opts = options({ optimizer: "sgd", momentum: 0.5, schedule: "step", decayEvery: 1, decayFactor: 0.5 })
    const w = Float64Array.of(1)
    const state = initVectorOptimizer(1)
    vectorOptimizerStep(w, Float64Array.of(2), state, opts) // m = 2, η_1 = 0.1: w = 1 − 0.2
    assert.approximately(w[0]!, 0.8, FLOAT64_IDENTITY)
    vectorOptimizerStep(w, Float64Array.of(1), state, opts) // m = 0.5·2 + 1 = 2, η_2 = 0.05: w = 0.8 − 0.1
    assert.approximately(w[0]!, 0.7, FLOAT64_IDENTITY)
    assert.strictEqual(state.m[0], 2)
    assert.strictEqual(state.v[0], 0, "SGD leaves the second moments alone")
  })

  it("the classification optimizer steps W_KQ and W_PV as one vector (one counter, one clipping norm)", () => {
    const D = 2
    const opts = options({ clipGradientNorm: 1, warmupSteps: 4, schedule: "cosine" })
    const weights = { D, kq: Float64Array.of(1, 2, 3, 4), pv: Float64Array.of(-1, 0.5, 0, 2) }
    const grads = () => ({ kq: Float64Array.of(3, 0, -1, 2), pv: Float64Array.of(0.5, 4, -2, 1) })
    const flat = Float64Array.of(...weights.kq, ...weights.pv)
    const state = initOptimizer(D)
    const vector = initVectorOptimizer(8)
    for (let s = 0; s < 3; s++) {
      const g = grads()
      classificationStep(weights, g, state, opts)
      vectorOptimizerStep(flat, Float64Array.of(...grads().kq, ...grads().pv), vector, opts)
    }
    assert.deepStrictEqual([...weights.kq, ...weights.pv], Array.from(flat))
    assert.strictEqual(state.step, 3)
    assert.deepStrictEqual([...state.m.kq, ...state.m.pv], Array.from(vector.m))
  })
})
