import { assert, describe, it } from "@effect/vitest"
import { binnedMeans, following, quantileBins } from "../../../src/domain/classification/Adaptability.js"
import { FLOAT64_IDENTITY } from "../../helpers.js"

describe("adaptability: confidence binned against what the context offers", () => {
  it("quantile bins hold about N/bins contexts in increasing order of the feature", () => {
    const feature = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0]
    const bins = quantileBins(feature, 5)
    assert.strictEqual(bins.count, 5)
    // Sorted: 0.0 0.1 | 0.2 0.3 | 0.4 0.5 | 0.6 0.7 | 0.8 0.9
    assert.deepStrictEqual(Array.from(bins.of), [4, 0, 2, 1, 3, 1, 4, 2, 3, 0])
  })

  it("never splits a tied value (an integer count) over two bins", () => {
    const counts = [3, 3, 3, 3, 3, 3, 1, 2, 5, 5]
    const bins = quantileBins(counts, 5)
    for (let i = 0; i < counts.length; i++) {
      for (let j = 0; j < counts.length; j++) if (counts[i] === counts[j]) assert.strictEqual(bins.of[i], bins.of[j])
    }
    // 1 2 | 3 3 3 3 3 3 | 5 5: the run of 3s takes its whole tie, so fewer bins than asked.
    assert.deepStrictEqual(Array.from(bins.of), [1, 1, 1, 1, 1, 1, 0, 0, 2, 2])
    assert.strictEqual(bins.count, 3)
  })

  it("bin means of the feature and of a value, with the value's SE over the bin's contexts", () => {
    const feature = [1, 2, 3, 4]
    const values = [0.2, 0.4, 0.5, 0.9]
    const binned = binnedMeans(feature, values, quantileBins(feature, 2))
    assert.deepStrictEqual(binned.map((b) => [b.x, b.contexts]), [[1.5, 2], [3.5, 2]])
    assert.closeTo(binned[0]!.value.mean, 0.3, FLOAT64_IDENTITY)
    // Two values 0.5 and 0.9: s = 0.2828…, SE = s/√2 = 0.2.
    assert.closeTo(binned[1]!.value.se, 0.2, FLOAT64_IDENTITY)
    const follow = following(feature, values, quantileBins(feature, 2))
    assert.closeTo(follow.lowest, 0.3, FLOAT64_IDENTITY)
    assert.closeTo(follow.highest, 0.7, FLOAT64_IDENTITY)
    // Pearson r of (1, 2, 3, 4) with (0.2, 0.4, 0.5, 0.9): Σdxdy = 1.1, Σdx² = 5, Σdy² = 0.26.
    assert.closeTo(follow.correlation, 1.1 / Math.sqrt(5 * 0.26), 1e-12)
  })
})
