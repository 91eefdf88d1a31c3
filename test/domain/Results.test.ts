import { assert, describe, it } from "@effect/vitest"
import {
  aggregate,
  COSINE,
  formatEstimate,
  formatInterval,
  meanAndSe,
  meanInterval,
  pairedDifference,
  PROBABILITY,
  type ResultRow,
  spreadOf,
  t95 as productT95
} from "../../src/domain/Results.js"
import { FLOAT64_IDENTITY } from "../helpers.js"
import { classificationAggregate } from "../../src/programs/classification/Tables.js"

/**
 * P(|T| ≤ t) for Student's t with ν degrees of freedom, in closed form for integer ν (Abramowitz & Stegun 26.7.3–4):
 * with θ = atan(t/√ν), a finite series in cos²θ. Written here independently of the product's quantiles.
 */
const twoSidedCdf = (t: number, nu: number): number => {
  const theta = Math.atan(t / Math.sqrt(nu))
  const c2 = Math.cos(theta) ** 2
  if (nu % 2 === 1) {
    if (nu === 1) return (2 * theta) / Math.PI
    let term = 1
    let sum = 1
    for (let k = 3; k <= nu - 2; k += 2) {
      term *= ((k - 1) / k) * c2
      sum += term
    }
    return (2 / Math.PI) * (theta + Math.sin(theta) * Math.cos(theta) * sum)
  }
  let term = 1
  let sum = 1
  for (let k = 2; k <= nu - 2; k += 2) {
    term *= ((k - 1) / k) * c2
    sum += term
  }
  return Math.sin(theta) * sum
}

/** The two-sided 95% quantile by bisection on the closed-form CDF. */
const t95 = (nu: number): number => {
  let lo = 0
  let hi = 100
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2
    if (twoSidedCdf(mid, nu) < 0.95) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/** jStat inverts the t CDF numerically to about 1e-8; a wrong quantile (another ν, another level) is off by > 1e-3. */
const QUANTILE = 1e-6

const sampleSd = (values: ReadonlyArray<number>) => {
  const mean = values.reduce((s, v) => s + v, 0) / values.length
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1))
}

describe("results: mean ± 95% CI", () => {
  it("the independent t quantiles agree with textbook values", () => {
    // Sanity of the test's own reference: t_{0.975} for ν = 1, 2, 10, 30 and the normal limit.
    assert.approximately(t95(1), 12.7062, 1e-4)
    assert.approximately(t95(2), 4.3027, 1e-4)
    assert.approximately(t95(10), 2.2281, 1e-4)
    assert.approximately(t95(30), 2.0423, 1e-4)
    assert.approximately(t95(2000), 1.9612, 1e-4)
  })

  it("the half-width is t_{0.975, k−1} · s/√k for every number of seeds k", () => {
    for (let k = 2; k <= 60; k++) {
      // k values that are not symmetric about their mean, so that the variance is not a round number.
      const values = Array.from({ length: k }, (_, i) => Math.sin(1 + 3 * i) + 0.01 * i * i)
      const interval = meanInterval(values)
      assert.approximately(interval.mean, values.reduce((s, v) => s + v, 0) / k, 1e-12)
      assert.strictEqual(interval.count, k)
      const quantile = interval.halfWidth / (sampleSd(values) / Math.sqrt(k))
      assert.approximately(quantile, t95(k - 1), QUANTILE, `${k} seeds (ν = ${k - 1})`)
    }
  })

  it("one value has no interval, non-finite values are left out, none gives NaN", () => {
    assert.deepStrictEqual(meanInterval([0.25]), { mean: 0.25, halfWidth: Number.NaN, se: Number.NaN, lo: 0.25, hi: 0.25, count: 1 })
    const withGaps = meanInterval([1, Number.NaN, 3, Number.POSITIVE_INFINITY])
    assert.strictEqual(withGaps.count, 2)
    assert.strictEqual(withGaps.mean, 2)
    assert.approximately(withGaps.halfWidth, t95(1), QUANTILE)
    assert.isNaN(meanInterval([]).mean)
  })
})

describe("results: aggregate over seeds", () => {
  const row = (n: number, seed: number, status: string, loss: number | null, solution: string | null): ResultRow => ({
    run_id: `r-${n}-${seed}`,
    seed,
    "task.n": n,
    attention: "softmax",
    status,
    final_loss: loss,
    accuracy: loss === null ? null : 1 - loss / 2,
    solution
  })
  const rows = [
    row(20, 0, "done", 0.9, "selection"),
    row(20, 1, "done", 0.7, "elimination"),
    row(20, 2, "done", 0.8, "selection"),
    row(20, 3, "failed", null, null),
    row(50, 0, "done", 0.5, "selection"),
    row(50, 1, "done", 0.4, "selection")
  ]

  it("groups by the axes, counts runs and failures, and aggregates only finished runs", () => {
    const groups = aggregate(rows, ["task.n", "attention"], ["final_loss", "accuracy"])
    assert.deepStrictEqual(groups.map((g) => g.key), [{ "task.n": 20, attention: "softmax" }, { "task.n": 50, attention: "softmax" }])
    assert.deepStrictEqual(groups.map((g) => [g.runs, g.failed]), [[4, 1], [2, 0]])
    const [n20, n50] = groups
    assert.approximately(n20!.metrics["final_loss"]!.mean, 0.8, 1e-12)
    assert.approximately(n20!.metrics["final_loss"]!.halfWidth, (t95(2) * 0.1) / Math.sqrt(3), QUANTILE)
    assert.approximately(n50!.metrics["accuracy"]!.mean, 1 - 0.45 / 2, 1e-12)
    assert.approximately(n50!.metrics["accuracy"]!.halfWidth, (t95(1) * sampleSd([0.75, 0.8])) / Math.SQRT2, QUANTILE)
    // Seeds per learned solution, with the mean loss of each kind.
    assert.deepStrictEqual(Object.keys(n20!.solutions), ["elimination", "selection"])
    assert.strictEqual(n20!.solutions["selection"]!.count, 2)
    assert.approximately(n20!.solutions["selection"]!.loss.mean, 0.85, 1e-12)
    assert.strictEqual(n20!.solutions["elimination"]!.count, 1)
    assert.strictEqual(n20!.solutions["elimination"]!.loss.mean, 0.7)
    assert.deepStrictEqual(Object.keys(n50!.solutions), ["selection"])
    assert.strictEqual(n50!.solutions["selection"]!.count, 2)
  })

  it("aggregate.csv and aggregate.md carry those numbers, with a 0 for a solution a configuration never learned", () => {
    const { rows: csv, markdown } = classificationAggregate("s", rows, ["task.n"])
    assert.strictEqual(csv[0]!["selection_seeds"], 2)
    assert.strictEqual(csv[0]!["elimination_seeds"], 1)
    assert.strictEqual(csv[1]!["elimination_seeds"], 0)
    assert.strictEqual(csv[1]!["elimination_loss_mean"], null)
    assert.approximately(csv[0]!["final_loss_mean"] as number, 0.8, 1e-12)
    assert.approximately(csv[0]!["final_loss_ci95"] as number, (t95(2) * 0.1) / Math.sqrt(3), QUANTILE)
    const lines = markdown.split("\n").filter((l) => l.startsWith("| 20 |") || l.startsWith("| 50 |"))
    assert.strictEqual(lines.length, 2)
    const ci = ((t95(2) * 0.1) / Math.sqrt(3)).toFixed(4)
    assert.include(lines[0]!, `| 4 (1 failed) | 0.8000 ± ${ci} |`)
    assert.include(lines[0]!, `| 1, 0.7000 | 2, 0.8500 ± `)
    // Two seeds 0.5 and 0.4: the t interval 0.45 ± 0.64 would reach below 0, so it is clipped and written by its ends.
    assert.match(lines[1]!, /\| 0 \| 2, 0\.4500 \[0\.0000, [0-9.]+\] \|$/)
  })
})

describe("intervals and standard errors", () => {
  it("a table's number keeps its value: a small non-zero loss is written in two significant digits, not as 0.0000", () => {
    // KGD-fixed* at d = 20 (settings-d): 4.585e-5 ± 2.158e-5 on 10,000 contexts.
    assert.strictEqual(formatEstimate({ mean: 4.585e-5, se: 2.158e-5 }), "4.6e-5 ± 2.2e-5")
    assert.strictEqual(formatEstimate({ mean: 0.1171, se: 0.00482 }), "0.1171 ± 0.0048")
    // Exactly zero, and values that four decimals show, stay fixed-point; the threshold follows the digits asked for.
    assert.strictEqual(formatEstimate({ mean: 0, se: 0 }), "0.0000 ± 0.0000")
    assert.strictEqual(formatEstimate({ mean: 0.0032, se: 0.00005 }), "0.0032 ± 0.0001")
    assert.strictEqual(formatEstimate({ mean: -3e-6, se: 4e-4 }, 3), "-3.0e-6 ± 4.0e-4")
  })

  it("the 95% interval over seeds is mean ± t·s/√k, with the SE s/√k", () => {
    const values = [0.2, 0.25, 0.3]
    const m = meanInterval(values)
    // s = 0.05 (sample standard deviation), k = 3, t(2) = 4.303.
    assert.closeTo(m.mean, 0.25, FLOAT64_IDENTITY)
    assert.closeTo(m.se, 0.05 / Math.sqrt(3), FLOAT64_IDENTITY)
    assert.closeTo(m.halfWidth, (4.303 * 0.05) / Math.sqrt(3), 1e-3)
    assert.closeTo(productT95(2), 4.303, 1e-3)
    assert.closeTo(m.lo, m.mean - m.halfWidth, FLOAT64_IDENTITY)
    assert.closeTo(m.hi, m.mean + m.halfWidth, FLOAT64_IDENTITY)
    assert.strictEqual(formatInterval(m), "0.2500 ± 0.1242", "t(2) = 4.303")
  })

  it("a bounded metric's interval stays inside its range and is written by its ends", () => {
    const cosines = meanInterval([0.9999, 0.9991], COSINE)
    assert.isAbove(cosines.mean + cosines.halfWidth, 1, "the symmetric interval would pass 1")
    assert.strictEqual(cosines.hi, 1)
    assert.closeTo(cosines.lo, cosines.mean - cosines.halfWidth, FLOAT64_IDENTITY)
    assert.strictEqual(formatInterval(cosines), `0.9995 [${(cosines.mean - cosines.halfWidth).toFixed(4)}, 1.0000]`)
    const accuracy = meanInterval([0.01, 0.05], PROBABILITY)
    assert.strictEqual(accuracy.lo, 0)
    // One value: no interval, its ends are the value.
    const single = meanInterval([0.4], PROBABILITY)
    assert.isNaN(single.halfWidth)
    assert.deepStrictEqual([single.lo, single.hi], [0.4, 0.4])
    assert.strictEqual(formatInterval(single), "0.4000")
  })

  it("the SE over contexts is the sample standard deviation over √N", () => {
    const values = Float64Array.of(1, 2, 3, 4, 10)
    // mean 4, squared deviations 9 + 4 + 1 + 0 + 36 = 50, s² = 12.5.
    const e = meanAndSe(values)
    assert.closeTo(e.mean, 4, FLOAT64_IDENTITY)
    assert.closeTo(e.se, Math.sqrt(12.5 / 5), FLOAT64_IDENTITY)
    assert.isNaN(meanAndSe([3]).se)
  })

  it("a paired difference's SE comes from the per-item differences, not from the two separate SEs", () => {
    const a = [1.0, 2.0, 3.0, 4.0]
    const b = [0.9, 2.1, 2.7, 3.9]
    // Differences 0.1, −0.1, 0.3, 0.1: mean 0.1, squared deviations 0 + 0.04 + 0.04 + 0 = 0.08, s² = 0.08/3.
    const paired = pairedDifference(a, b)
    assert.closeTo(paired.mean, 0.1, FLOAT64_IDENTITY)
    assert.closeTo(paired.se, Math.sqrt(0.08 / 3 / 4), FLOAT64_IDENTITY)
    // Unpaired, the SEs of a and b (each ≈ 0.65) would combine to ≈ 0.9: pairing is what makes the gap measurable.
    assert.isAbove(Math.hypot(meanAndSe(a).se, meanAndSe(b).se), 10 * paired.se)
    assert.throws(() => pairedDifference([1, 2], [1]))
  })

  it("the spread of repeated measurements: mean, sample SD, relative SD, range", () => {
    const s = spreadOf([0.3, 0.33, 0.27])
    assert.closeTo(s.mean, 0.3, FLOAT64_IDENTITY)
    assert.closeTo(s.sd, 0.03, FLOAT64_IDENTITY)
    assert.closeTo(s.relativeSd, 0.1, FLOAT64_IDENTITY)
    assert.deepStrictEqual([s.min, s.max, s.count], [0.27, 0.33, 3])
  })
})
