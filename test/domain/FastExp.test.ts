import { assert, describe, it } from "@effect/vitest"
import { fastExp } from "../../src/domain/FastExp.js"
import { keyedRng } from "../../src/domain/Rng.js"

/** Two units in the last place, relative: Tang's method with a degree-5 polynomial rounds a few times on the way. */
const TWO_ULP = 2 * Number.EPSILON

describe("fastExp", () => {
  it("is within 2 ulp of Math.exp wherever exp is a normal number, and at the ends of its range", () => {
    const rng = keyedRng(5, "evaluation", 0)
    let worst = 0
    for (let i = 0; i < 200_000; i++) {
      // Half of the arguments where the kernels use it (scores minus their maximum), half over the whole normal range.
      const x = i % 2 === 0 ? -40 * rng.uniform() : -708 + 1417 * rng.uniform()
      const expected = Math.exp(x)
      worst = Math.max(worst, Math.abs(fastExp(x) - expected) / expected)
    }
    assert.isBelow(worst, TWO_ULP)
    assert.strictEqual(fastExp(0), 1)
    assert.strictEqual(fastExp(1), Math.E)
    assert.strictEqual(fastExp(-Infinity), 0)
    assert.strictEqual(fastExp(-800), 0)
    assert.strictEqual(fastExp(710), Infinity)
    assert.strictEqual(fastExp(Infinity), Infinity)
    assert.isNaN(fastExp(Number.NaN))
  })
})
