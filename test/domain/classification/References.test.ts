import { assert, describe, it } from "@effect/vitest"
import { defaults } from "../../../src/domain/classification/Config.js"
import { evaluationSteps } from "../../../src/domain/EvaluationSchedule.js"
import { constructionWeights, extractParameters, solutionKind } from "../../../src/domain/classification/Extraction.js"
import { meanCrossEntropy, minimizeScale, referenceFeatures } from "../../../src/domain/classification/GdMath.js"
import { logSpace, signedGrid } from "../../../src/domain/Search.js"
import { gridSearch } from "../../../src/domain/classification/GridSearch.js"
import { alignment, pearson, perContext, performance } from "../../../src/domain/classification/Metrics.js"
import { forwardBatch, initWeights } from "../../../src/domain/classification/Model.js"
import { FLOAT64_IDENTITY, spec, tasks } from "../../helpers.js"

const set = tasks({ d: 5, C: 5, n: 40 }, 600, 5)

describe("grid search", () => {
  it("Newton's step minimises CE: no point of a fine grid over both signs does better", () => {
    const { features } = referenceFeatures({ kind: "ca-kgd", D: 10, selfAttend: false }, 20, set, false)
    const best = minimizeScale(features, set.queryLabel, 5)
    for (const scale of signedGrid(1e-3, 1e4, 400)) {
      assert.isAtLeast(meanCrossEntropy(features, scale, set.queryLabel, 5), best.loss - 1e-12, `θ = ${scale}`)
    }
    assert.isAbove(best.scale, 0, "with c_σ > 0 the optimal step adds the labels of similar points")
  })

  it("finds the selection and elimination basins and the better of the two", () => {
    const ranges = { ...defaults.references, cSigma: { min: 0.5, max: 200, count: 13 }, scanSize: 100 }
    const result = gridSearch({ kind: "ca-kgd", D: 10, selfAttend: false }, set, ranges)
    assert.isAbove(result.selection!.cSigma, 0)
    assert.isAbove(result.selection!.scale, 0)
    assert.isBelow(result.elimination!.cSigma, 0)
    assert.isBelow(result.elimination!.scale, 0)
    assert.strictEqual(result.best.loss, Math.min(result.selection!.loss, result.elimination!.loss))
    // The refined optimum is no worse than any grid point of its basin.
    for (const cSigma of logSpace(0.5, 200, 13)) {
      const { features } = referenceFeatures({ kind: "ca-kgd", D: 10, selfAttend: false }, cSigma, set, false)
      assert.isAtLeast(minimizeScale(features, set.queryLabel, 5).loss, result.selection!.loss - 1e-12)
    }
    assert.strictEqual(result.landscape.loss.length, 26)
    assert.strictEqual(result.landscape.loss[0]!.length, 2 * ranges.scale.count)
  })

  it("grid-optimal GD-lin predicts better than the same step at a tenth or ten times the size", () => {
    const result = gridSearch({ kind: "gd-linear", D: 10, selfAttend: false }, set, defaults.references)
    const { features } = referenceFeatures({ kind: "gd-linear", D: 10, selfAttend: false }, 0, set, false)
    assert.isBelow(result.best.loss, meanCrossEntropy(features, result.best.scale / 10, set.queryLabel, 5))
    assert.isBelow(result.best.loss, meanCrossEntropy(features, result.best.scale * 10, set.queryLabel, 5))
  })
})

describe("parameter extraction", () => {
  it("reads (a, b) back off the construction, with structure residuals of zero", () => {
    for (const attention of ["linear", "softmax", "exp"] as const) {
      const s = spec(attention, 5, 5)
      const extracted = extractParameters(s, constructionWeights(s, 3.5, -1.25), 100)
      assert.closeTo(extracted.diagnostics.a, 3.5, FLOAT64_IDENTITY)
      assert.closeTo(extracted.diagnostics.b, -1.25, FLOAT64_IDENTITY)
      assert.strictEqual(extracted.diagnostics.rA, 0)
      assert.strictEqual(extracted.diagnostics.rB, 0)
      if (attention === "linear") assert.closeTo(extracted.eta!, 3.5 * -1.25, FLOAT64_IDENTITY)
      if (attention === "softmax") assert.closeTo(extracted.cEta!, 100 * -1.25, FLOAT64_IDENTITY)
    }
  })

  it("labels the solution kind by the signs of c_σ and b", () => {
    assert.strictEqual(solutionKind(30, 5), "selection")
    assert.strictEqual(solutionKind(-12, -200), "elimination")
    assert.strictEqual(solutionKind(12, -2), "mixed")
  })

  it("reports how far the untouchable blocks moved from their initial values", () => {
    const s = spec("softmax", 5, 5)
    const init = initWeights(s, 1, 0.02)
    const moved = { ...init, kq: init.kq.slice() }
    moved.kq[0 * 10 + 7]! += 0.5 // A_xy
    assert.strictEqual(extractParameters(s, init, 100, init).diagnostics.untouchedDrift, 0)
    assert.closeTo(extractParameters(s, moved, 100, init).diagnostics.untouchedDrift!, 0.5, FLOAT64_IDENTITY)
  })
})

describe("metrics", () => {
  it("per-context loss, p(correct) and entropy agree with their definitions", () => {
    const logits = Float64Array.of(0, 0, 0, Math.log(3), 0, 0)
    const stats = perContext(logits, Int32Array.of(1, 0), 3)
    assert.closeTo(stats.loss[0]!, Math.log(3), FLOAT64_IDENTITY)
    assert.closeTo(stats.entropy[0]!, Math.log(3), FLOAT64_IDENTITY)
    assert.closeTo(stats.pCorrect[1]!, 0.6, FLOAT64_IDENTITY)
    assert.strictEqual(stats.correct[1], 1)
    const p = [0.6, 0.2, 0.2]
    assert.closeTo(stats.entropy[1]!, -p.reduce((s, v) => s + v * Math.log(v), 0), FLOAT64_IDENTITY)
    assert.closeTo(performance(stats).pCorrect, (1 / 3 + 0.6) / 2, FLOAT64_IDENTITY)
  })

  it("a predictor is perfectly aligned with itself and its negation points the other way", () => {
    const s = spec("softmax", 5, 5)
    const w = initWeights(s, 2, 0.5)
    const model = forwardBatch(s, w, set, true)
    const stats = perContext(model.logits, set.queryLabel, 5)
    const self = alignment(model, stats, model, stats, 5, 5)
    assert.closeTo(self.modelCos, 1, 1e-7)
    assert.strictEqual(self.predsDiff, 0)
    assert.strictEqual(self.modelDiff, 0)
    assert.closeTo(self.lossCorrelation, 1, FLOAT64_IDENTITY)
    const negated = { logits: model.logits.map((v) => -v), jacobians: model.jacobians!.map((v) => -v) }
    const opposite = alignment(model, stats, negated, perContext(negated.logits, set.queryLabel, 5), 5, 5)
    assert.closeTo(opposite.modelCos, -1, 1e-7)
    assert.isNaN(pearson([1, 1, 1], [1, 2, 3]))
  })

  it("preds diff, model cos and model diff of a hand-computed pair (C = 2, d = 2, two contexts)", () => {
    // Context 0: the model predicts p = (1/2, 1/2), the reference (3/4, 1/4); context 1: both (3/4, 1/4).
    const ln3 = Math.log(3)
    const model = { logits: Float64Array.of(0, 0, ln3, 0), jacobians: Float64Array.of(1, 0, 0, 0, 2, 0, 0, 0) }
    const reference = { logits: Float64Array.of(ln3, 0, ln3, 0), jacobians: Float64Array.of(0, 1, 0, 0, 1, 0, 0, 0) }
    const labels = Int32Array.of(0, 1)
    const result = alignment(model, perContext(model.logits, labels, 2), reference, perContext(reference.logits, labels, 2), 2, 2)
    // ‖(1/2, 1/2) − (3/4, 1/4)‖ = √2/4 in context 0 and 0 in context 1.
    assert.closeTo(result.predsDiff, Math.SQRT2 / 8, FLOAT64_IDENTITY)
    // Centred Jacobians J − mean_c J: context 0 (½, 0; −½, 0) against (0, ½; 0, −½), orthogonal at distance 1;
    // context 1 (1, 0; −1, 0) against (½, 0; −½, 0), parallel at distance √½.
    assert.closeTo(result.modelCos, 0.5, 1e-7)
    assert.closeTo(result.modelDiff, (1 + Math.SQRT1_2) / 2, FLOAT64_IDENTITY)
    // Losses: context 0 −log ½ against −log ¾, context 1 −log ¼ for both.
    assert.closeTo(result.lossGap, (Math.log(2) - Math.log(4 / 3)) / 2, FLOAT64_IDENTITY)
  })

  it("evaluation steps: 0, a log-spaced start, every k steps, and the last step", () => {
    assert.deepStrictEqual(evaluationSteps(1000, 250, 4), [0, 1, 4, 16, 63, 250, 500, 750, 1000])
    assert.deepStrictEqual(evaluationSteps(30, 100, 3), [0, 1, 3, 10, 30])
    assert.deepStrictEqual(evaluationSteps(0, 100, 3), [0])
  })
})
