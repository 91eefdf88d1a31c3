import { assert, describe, it } from "@effect/vitest"
import { formatProportion, wilsonInterval } from "../../src/domain/Binomial.js"

describe("Wilson score interval", () => {
  it("matches Newcombe (1998), Table II, method 3 (score, no continuity correction), to the 4 decimals published", () => {
    const published: ReadonlyArray<readonly [number, number, number, number]> = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718]
    ]
    for (const [k, n, lower, upper] of published) {
      const p = wilsonInterval(k, n)
      assert.approximately(p.lower, lower, 5e-5, `${k}/${n} lower`)
      assert.approximately(p.upper, upper, 5e-5, `${k}/${n} upper`)
      assert.strictEqual(p.estimate, k / n)
    }
  })

  it("is symmetric under k → n − k, stays in [0, 1], and shrinks as n grows at a fixed fraction", () => {
    const a = wilsonInterval(3, 24)
    const b = wilsonInterval(21, 24)
    assert.approximately(a.lower, 1 - b.upper, 1e-15)
    assert.approximately(a.upper, 1 - b.lower, 1e-15)
    assert.strictEqual(wilsonInterval(24, 24).upper, 1)
    assert.isAbove(wilsonInterval(24, 24).lower, 0.85)
    const width = (k: number, n: number) => wilsonInterval(k, n).upper - wilsonInterval(k, n).lower
    assert.isBelow(width(50, 200), width(6, 24))
    assert.deepStrictEqual([wilsonInterval(0, 0).lower, wilsonInterval(0, 0).upper], [0, 1])
    assert.strictEqual(formatProportion(wilsonInterval(0, 20)), "0/20 = 0.00 [0.00, 0.16]")
  })
})
