import { assert, describe, it } from "@effect/vitest"
import { TRAINING_OPTION_DEFAULTS } from "../../src/domain/ConfigSchema.js"
import { learningRateAt, type ScheduleOptions } from "../../src/domain/LearningRate.js"

const options = (overrides: Partial<ScheduleOptions>): ScheduleOptions => ({
  ...TRAINING_OPTION_DEFAULTS,
  learningRate: 0.01,
  steps: 1000,
  ...overrides
})
/** Each rate is a handful of float64 operations on numbers of order 1e-2: a few ulps. */
const CLOSE = 1e-15

describe("learning-rate schedule", () => {
  it("constant: η at every step, exactly (the rate training used before schedules existed)", () => {
    for (const step of [1, 2, 500, 1000]) assert.strictEqual(learningRateAt(options({}), step), 0.01)
  })

  it("linear warm-up: η·t/W for t ≤ W, then the schedule", () => {
    const warm = options({ warmupSteps: 100 })
    assert.approximately(learningRateAt(warm, 1), 0.0001, CLOSE)
    assert.approximately(learningRateAt(warm, 25), 0.0025, CLOSE)
    assert.approximately(learningRateAt(warm, 100), 0.01, CLOSE)
    assert.strictEqual(learningRateAt(warm, 101), 0.01)
    assert.strictEqual(learningRateAt(warm, 1000), 0.01)
  })

  it("cosine: η·(f + (1 − f)·½(1 + cos(π u/U))) after warm-up, from η to f·η at the last step", () => {
    // W = 200, T = 1000, U = 800, f = 0.1.
    const cosine = options({ schedule: "cosine", warmupSteps: 200, minLearningRateFactor: 0.1 })
    assert.approximately(learningRateAt(cosine, 100), 0.005, CLOSE, "still warming up")
    assert.approximately(learningRateAt(cosine, 200), 0.01, CLOSE)
    // u = 200: cos(π/4) = √2/2.
    assert.approximately(learningRateAt(cosine, 400), 0.01 * (0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2)), CLOSE)
    // u = 400: halfway, cos(π/2) = 0.
    assert.approximately(learningRateAt(cosine, 600), 0.01 * (0.1 + 0.45), CLOSE)
    assert.approximately(learningRateAt(cosine, 1000), 0.001, CLOSE, "f·η at the last step")
    // No warm-up, f = 0: decays from just below η to 0.
    const plain = options({ schedule: "cosine" })
    assert.approximately(learningRateAt(plain, 1), 0.01 * 0.5 * (1 + Math.cos(Math.PI / 1000)), CLOSE)
    assert.approximately(learningRateAt(plain, 1000), 0, CLOSE)
  })

  it("step: η·γ^⌊(u − 1)/k⌋ after warm-up", () => {
    const step = options({ schedule: "step", warmupSteps: 10, decayEvery: 100, decayFactor: 0.5 })
    assert.approximately(learningRateAt(step, 5), 0.005, CLOSE)
    assert.strictEqual(learningRateAt(step, 11), 0.01, "the first k steps after warm-up at η")
    assert.strictEqual(learningRateAt(step, 110), 0.01)
    assert.strictEqual(learningRateAt(step, 111), 0.005)
    assert.strictEqual(learningRateAt(step, 210), 0.005)
    assert.strictEqual(learningRateAt(step, 211), 0.0025)
    assert.approximately(learningRateAt(step, 1000), 0.01 * 0.5 ** 9, CLOSE, "u = 990: ⌊989/100⌋ = 9 halvings")
  })

  it("the rate is a function of the step alone: the same at any step however often it is asked", () => {
    const cosine = options({ schedule: "cosine", warmupSteps: 50 })
    const forward = Array.from({ length: 1000 }, (_, i) => learningRateAt(cosine, i + 1))
    const backward = Array.from({ length: 1000 }, (_, i) => learningRateAt(cosine, 1000 - i)).reverse()
    assert.deepStrictEqual(forward, backward)
  })
})
