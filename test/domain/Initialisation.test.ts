import { assert, describe, it } from "@effect/vitest"
import { fillInitial, TRUNCATED_NORMAL_STD } from "../../src/domain/Initialisation.js"
import { initWeights } from "../../src/domain/classification/Model.js"
import { keyedRng } from "../../src/domain/Rng.js"
import { structureDiagnostics } from "../../src/domain/classification/Extraction.js"
import { FLOAT64_IDENTITY, spec } from "../helpers.js"

const moments = (values: Float64Array) => {
  let sum = 0
  let squares = 0
  let largest = 0
  for (const v of values) {
    sum += v
    squares += v * v
    largest = Math.max(largest, Math.abs(v))
  }
  return { mean: sum / values.length, std: Math.sqrt(squares / values.length), largest }
}

describe("initial weights", () => {
  it("normal: the draws the model was initialised with before distributions existed (scale · Rng.normal, W_KQ then W_PV)", () => {
    const s = spec("softmax", 5, 5)
    const w = initWeights(s, 3, 0.02)
    const rng = keyedRng(3, "init", 0)
    const D = 10
    for (let i = 0; i < D * D; i++) assert.strictEqual(w.kq[i], 0.02 * rng.normal())
    for (let i = 0; i < D * D; i++) assert.strictEqual(w.pv[i], 0.02 * rng.normal())
    assert.deepStrictEqual(initWeights(s, 3, 0.02, "normal"), w)
  })

  it("every distribution has standard deviation `scale`; uniform and truncated normal stay within their bounds", () => {
    const count = 200_000
    // The sample standard deviation of 200,000 draws is within 4 standard errors (σ·√(κ−1)/(2√N) ≤ 0.0023σ) of σ.
    const tolerance = 0.01
    for (const distribution of ["normal", "uniform", "truncated-normal"] as const) {
      const values = new Float64Array(count)
      fillInitial(keyedRng(11, "init", 0), values, 0, count, 0.5, distribution)
      const { mean, std, largest } = moments(values)
      assert.approximately(std / 0.5, 1, tolerance, `${distribution} std`)
      assert.approximately(mean, 0, 0.01, `${distribution} mean`)
      if (distribution === "uniform") assert.isAtMost(largest, 0.5 * Math.sqrt(3))
      if (distribution === "truncated-normal") {
        assert.isAtMost(largest, (0.5 * 2) / TRUNCATED_NORMAL_STD)
        assert.isAbove(largest, (0.5 * 1.95) / TRUNCATED_NORMAL_STD, "the tails reach the cut")
      }
      if (distribution === "normal") assert.isAbove(largest, 0.5 * 3.5, "a normal has tails beyond the truncation")
    }
  })

  it("the truncated normal's standard deviation constant is √(1 − 4φ(2)/(2Φ(2) − 1))", () => {
    // φ(2) = e^{−2}/√(2π); 2Φ(2) − 1 = erf(√2) = 0.9544997361036416.
    const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI)
    assert.approximately(TRUNCATED_NORMAL_STD, Math.sqrt(1 - (4 * phi2) / 0.9544997361036416), 1e-15)
  })
})

describe("the construction's a and b added at initialisation (classification)", () => {
  it("shift the diagonals of A and B_yy only, so the extracted a and b move by exactly those amounts", () => {
    const s = spec("softmax", 5, 5)
    const plain = initWeights(s, 4, 0.02)
    const shifted = initWeights(s, 4, 0.02, "normal", { a: 0.1, b: -0.05 })
    const D = 10
    for (let r = 0; r < D; r++) {
      for (let c = 0; c < D; c++) {
        const i = r * D + c
        assert.strictEqual(shifted.kq[i], plain.kq[i]! + (r === c && r < 5 ? 0.1 : 0), `kq[${r}, ${c}]`)
        assert.strictEqual(shifted.pv[i], plain.pv[i]! + (r === c && r >= 5 ? -0.05 : 0), `pv[${r}, ${c}]`)
      }
    }
    const a = (w: typeof plain) => structureDiagnostics(s, w).a
    const b = (w: typeof plain) => structureDiagnostics(s, w).b
    assert.approximately(a(shifted) - a(plain), 0.1, FLOAT64_IDENTITY)
    assert.approximately(b(shifted) - b(plain), -0.05, FLOAT64_IDENTITY)
  })
})
