import { assert, describe, it } from "@effect/vitest"
import { basinAt, basinDecidedAt, basinOf, decisionOf, predictionBySteps, rocArea } from "../../../src/domain/classification/Basins.js"

const trajectory = (points: ReadonlyArray<readonly [number, number]>) => points.map(([step, cSigma]) => ({ step, cSigma }))

describe("basin decision", () => {
  it("the basin is the sign of c_σ; none at 0, null or NaN", () => {
    assert.strictEqual(basinOf(0.3), "selection")
    assert.strictEqual(basinOf(-2), "elimination")
    for (const none of [0, null, undefined, Number.NaN]) assert.isNull(basinOf(none))
  })

  it("the decision step is the first point from which the sign never changes again", () => {
    // + at init, − at steps 1–2, + at 5, then − from step 10 on: decided at 10, three sign changes.
    const t = trajectory([[0, 0.01], [1, -0.02], [2, -0.03], [5, 0.01], [10, -0.2], [100, -1.5], [1000, -6]])
    assert.deepStrictEqual(decisionOf(t), { step: 10, basin: "elimination", signChanges: 3 })
    // Order of the points does not matter.
    assert.deepStrictEqual(decisionOf([...t].reverse()), { step: 10, basin: "elimination", signChanges: 3 })
    // The initial sign never changes: decided at step 0.
    assert.deepStrictEqual(decisionOf(trajectory([[0, 0.01], [1, 0.02], [500, 4]])), { step: 0, basin: "selection", signChanges: 0 })
    // A point without a sign counts as undecided (the decision comes after it), without counting as a change.
    assert.deepStrictEqual(decisionOf(trajectory([[0, -0.01], [1, 0], [2, -0.5]])), { step: 2, basin: "elimination", signChanges: 0 })
    assert.isNull(decisionOf([]))
    assert.isNull(decisionOf(trajectory([[0, 1], [5, Number.NaN]])))
  })

  it("the sign at step k is that of the last point at or before k; agreement with the final basin per k", () => {
    const a = trajectory([[0, 0.1], [10, -1], [100, -3]])
    const b = trajectory([[0, -0.1], [10, 0.5], [100, 2]])
    assert.strictEqual(basinAt(a, 5), "selection")
    assert.strictEqual(basinAt(a, 10), "elimination")
    assert.isNull(basinAt(a, -1))
    const runs = [
      { trajectory: a, final: "elimination" as const },
      { trajectory: b, final: "selection" as const },
      { trajectory: trajectory([[0, 0.2], [10, 0.3]]), final: "selection" as const }
    ]
    const points = predictionBySteps(runs, [0, 10])
    assert.deepStrictEqual(points.map((p) => [p.step, p.agreement.successes, p.agreement.trials]), [[0, 1, 3], [10, 3, 3]])
  })

  it("early stopping: |c_σ| at least minCSigma and the sign held over the last `patience` steps", () => {
    const rule = { patience: 100, minCSigma: 1 }
    const t = trajectory([[0, 0.01], [50, 0.5], [100, -0.9], [150, -1.2], [200, -1.5], [250, -2]])
    const upTo = (step: number) => t.filter((p) => p.step <= step)
    assert.isFalse(basinDecidedAt(upTo(100), rule), "|c_σ| below the margin")
    assert.isFalse(basinDecidedAt(upTo(150), rule), "the point 100 steps back (step 50) had the other sign")
    assert.isTrue(basinDecidedAt(upTo(200), rule), "held over [100, 200] and |c_σ| = 1.5")
    // Between evaluation points, the sign `patience` steps back is that of the last point before.
    assert.isTrue(basinDecidedAt(trajectory([[0, 0.1], [40, -2], [170, -2.5]]), rule), "negative since step 40, before 170 − 100")
    assert.isFalse(basinDecidedAt(trajectory([[0, 0.1], [80, -2], [170, -2.5]]), rule), "at step 70 it was still positive")
    // A sign change inside the window restarts the wait.
    const flip = trajectory([[0, 0.01], [100, 2], [150, -1.5], [200, -2], [250, -2.2]])
    assert.isFalse(basinDecidedAt(flip.slice(0, 4), rule))
    assert.isTrue(basinDecidedAt(flip, rule))
    // Not before `patience` steps of history.
    assert.isFalse(basinDecidedAt(trajectory([[0, 5], [50, 5]]), rule))
    assert.isFalse(basinDecidedAt([], rule))
  })
})

describe("ROC area", () => {
  it("is 1 for separated groups, 0.5 for identical ones, counts ties half, with Hanley–McNeil's standard error", () => {
    assert.strictEqual(rocArea([3, 4, 5], [0, 1, 2]).area, 1)
    assert.strictEqual(rocArea([0, 1, 2], [3, 4, 5]).area, 0)
    assert.strictEqual(rocArea([1, 2], [1, 2]).area, 0.5)
    assert.strictEqual(rocArea([1], [1]).area, 0.5)
    // A = 0.75 with n₁ = n₂ = 2: Q₁ = 0.6, Q₂ = 1.125/1.75; SE² = (0.1875 + (0.6 − 0.5625) + (Q₂ − 0.5625)) / 4.
    const { area, standardError } = rocArea([2, 4], [1, 3])
    assert.strictEqual(area, 0.75)
    assert.approximately(standardError, Math.sqrt((0.1875 + 0.0375 + (1.125 / 1.75 - 0.5625)) / 4), 1e-15)
    assert.isNaN(rocArea([], [1]).area)
  })
})
