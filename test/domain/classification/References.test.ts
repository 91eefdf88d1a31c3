import { assert, describe, it } from "@effect/vitest"
import { defaults } from "../../../src/domain/classification/Config.js"
import { evaluationSteps } from "../../../src/domain/EvaluationSchedule.js"
import { constructionWeights, extractParameters, solutionKind } from "../../../src/domain/classification/Extraction.js"
import {
  CA_GD_LINEAR_GUARD,
  meanCrossEntropy,
  minimizeScale,
  queryDots,
  referenceFeatures,
  referencePredict
} from "../../../src/domain/classification/GdMath.js"
import { contextFeatures, effectiveSteps } from "../../../src/domain/classification/ContextFeatures.js"
import { allocateBatch } from "../../../src/domain/classification/Task.js"
import { logSpace, signedGrid } from "../../../src/domain/Search.js"
import { gridSearch } from "../../../src/domain/classification/GridSearch.js"
import {
  alignment,
  pairedDifferences,
  pearson,
  perContext,
  performance,
  standardErrors
} from "../../../src/domain/classification/Metrics.js"
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

describe("the fourth reference: the linear kernel with a context-adaptive step (CA-GD-lin)", () => {
  it("equals its formula (b · Σ_{i: y_i = c} x_iᵀx_q / Σ_j |x_jᵀx_q|) in float64, with and without the query's own term", () => {
    const small = tasks({ d: 4, C: 3, n: 9 }, 5, 3)
    const b = 2.75
    for (const selfAttend of [false, true]) {
      const { logits } = referencePredict({ kind: "ca-gd-linear", D: 7, selfAttend }, { cSigma: 123, scale: b }, small, false)
      for (let t = 0; t < small.size; t++) {
        const dot = (i: number) => [0, 1, 2, 3].reduce((s, k) => s + small.x[(t * 9 + i) * 4 + k]! * small.query[t * 4 + k]!, 0)
        const dots = Array.from({ length: 9 }, (_, i) => dot(i))
        const normaliser = dots.reduce((s, v) => s + Math.abs(v), 0) + (selfAttend ? 1 : 0)
        for (let c = 0; c < 3; c++) {
          const numerator = dots.reduce((s, v, i) => s + (small.labels[t * 9 + i] === c ? v : 0), 0)
          assert.closeTo(logits[t * 3 + c]!, (b * numerator) / normaliser, FLOAT64_IDENTITY, `t=${t} c=${c} self=${selfAttend}`)
        }
      }
    }
  })

  it("normalises by the kernel's magnitude: at the main setting the signed sum Σ_j x_jᵀx_q is negative in about a sixth of the contexts", () => {
    const main = tasks({}, 2000, 2002)
    const dots = queryDots(main)
    let negative = 0
    for (let t = 0; t < main.size; t++) {
      let sum = 0
      for (let i = 0; i < main.n; i++) sum += dots[t * main.n + i]!
      if (sum < 0) negative++
    }
    // A signed normaliser would flip those contexts' predictions; the magnitude never does (its sign is +).
    assert.isAbove(negative / main.size, 0.1)
    assert.isBelow(negative / main.size, 0.25)
    const { features } = referenceFeatures({ kind: "ca-gd-linear", D: 10, selfAttend: false }, 0, main, false)
    const linear = referenceFeatures({ kind: "gd-linear", D: 10, selfAttend: false }, 0, main, false).features
    for (let i = 0; i < features.length; i++) assert.strictEqual(Math.sign(features[i]!), Math.sign(linear[i]!))
  })

  it("has no width: c_σ changes nothing, and its grid search is over the step alone", () => {
    const shape = { kind: "ca-gd-linear", D: 10, selfAttend: false } as const
    assert.deepStrictEqual(referenceFeatures(shape, 0.1, set, false).features, referenceFeatures(shape, 50, set, false).features)
    const result = gridSearch(shape, set, defaults.references)
    assert.isNull(result.selection)
    assert.strictEqual(result.landscape.loss.length, 1)
    const { features } = referenceFeatures(shape, 0, set, false)
    assert.isBelow(result.best.loss, meanCrossEntropy(features, result.best.scale / 3, set.queryLabel, 5))
    assert.isBelow(result.best.loss, meanCrossEntropy(features, result.best.scale * 3, set.queryLabel, 5))
  })

  it("a context whose points are all orthogonal to the query gets finite logits (the normaliser's floor)", () => {
    const batch = allocateBatch(1, 2, 2, 2)
    batch.x.set([0, 1, 0, -1])
    batch.labels.set([0, 1])
    batch.query.set([1, 0])
    const { logits, jacobians } = referencePredict({ kind: "ca-gd-linear", D: 4, selfAttend: false }, { cSigma: 0, scale: 3 }, batch, true)
    assert.deepStrictEqual(Array.from(logits), [0, 0])
    // The numerators' derivatives (the context points) over the floor: huge but finite.
    assert.isTrue(Array.from(jacobians!).every(Number.isFinite))
    assert.closeTo(jacobians![1]!, 3 / CA_GD_LINEAR_GUARD, 1)
  })
})

describe("what a context offers its query", () => {
  it("same-class count, mean similarity and CA-KGD's effective step agree with their definitions", () => {
    const batch = allocateBatch(2, 3, 2, 3)
    const s = Math.SQRT1_2
    batch.x.set([1, 0, 0, 1, s, s, /* task 2 */ -1, 0, 0, -1, 1, 0])
    batch.labels.set([0, 2, 0, 1, 1, 2])
    batch.query.set([1, 0, 0, 1])
    batch.queryLabel.set([0, 1])
    const features = contextFeatures(batch)
    assert.deepStrictEqual(Array.from(features.sameClass), [2, 2])
    assert.closeTo(features.similarity[0]!, (1 + 0 + s) / 3, FLOAT64_IDENTITY)
    assert.closeTo(features.similarity[1]!, (0 - 1 + 0) / 3, FLOAT64_IDENTITY)
    const D = 5
    const [cSigma, b] = [4, 0.5]
    const k = (dot: number) => Math.exp((cSigma * dot) / Math.sqrt(D))
    const steps = effectiveSteps({ D, selfAttend: false }, { cSigma, scale: b }, batch)
    assert.closeTo(steps[0]!, (3 * b) / (k(1) + k(0) + k(s)), FLOAT64_IDENTITY)
    assert.closeTo(steps[1]!, (3 * b) / (k(0) + k(-1) + k(0)), FLOAT64_IDENTITY)
    const withSelf = effectiveSteps({ D, selfAttend: true }, { cSigma, scale: b }, batch)
    assert.closeTo(withSelf[0]!, (3 * b) / (k(1) + k(0) + k(s) + k(1)), FLOAT64_IDENTITY)
    // A large c_σ does not overflow (exp(1000/√5) does in a double): log η = log 3b − log Σ_j k_j, from the log-sum.
    const huge = effectiveSteps({ D, selfAttend: false }, { cSigma: 1000, scale: b }, batch)
    const g = 1000 / Math.sqrt(D)
    const logSum = g + Math.log(1 + Math.exp(-g) + Math.exp(g * (s - 1)))
    assert.closeTo(Math.log(huge[0]!), Math.log(3 * b) - logSum, 1e-9)
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

  it("standard errors over contexts and paired differences agree with a direct computation", () => {
    // Three contexts, two classes; logits chosen so that p(correct) is 1/2, 3/4 and 1/4.
    const labels = Int32Array.of(0, 0, 1)
    const model = perContext(Float64Array.of(0, 0, Math.log(3), 0, Math.log(3), 0), labels, 2)
    // The reference: p(correct) 1/2, 2/3, 2/3; right on every context (the model is wrong on the third).
    const reference = perContext(Float64Array.of(0, 0, Math.log(2), 0, 0, Math.log(2)), labels, 2)
    const se = (v: ReadonlyArray<number>) => {
      const m = v.reduce((s, x) => s + x, 0) / v.length
      return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1) / v.length)
    }
    const losses = [Math.log(2), -Math.log(0.75), -Math.log(0.25)]
    const errors = standardErrors(model)
    assert.closeTo(errors.loss, se(losses), FLOAT64_IDENTITY)
    assert.closeTo(errors.pCorrect, se([0.5, 0.75, 0.25]), FLOAT64_IDENTITY)
    assert.closeTo(errors.accuracy, se([1, 1, 0]), FLOAT64_IDENTITY, "a tie goes to the first class")
    const paired = pairedDifferences(model, reference)
    const referenceLosses = [Math.log(2), -Math.log(2 / 3), -Math.log(2 / 3)]
    const gaps = losses.map((l, t) => l - referenceLosses[t]!)
    assert.closeTo(paired.loss.mean, gaps.reduce((s, v) => s + v, 0) / 3, FLOAT64_IDENTITY)
    assert.closeTo(paired.loss.se, se(gaps), FLOAT64_IDENTITY)
    assert.closeTo(paired.pCorrect.mean, (0 + (0.75 - 2 / 3) + (0.25 - 2 / 3)) / 3, FLOAT64_IDENTITY)
    assert.closeTo(paired.accuracy.mean, -1 / 3, FLOAT64_IDENTITY)
    assert.closeTo(paired.accuracy.se, se([0, 0, -1]), FLOAT64_IDENTITY)
    assert.closeTo(paired.entropy.se, se([0, 1, 2].map((t) => model.entropy[t]! - reference.entropy[t]!)), FLOAT64_IDENTITY)
    const flat = perContext(Float64Array.of(0, 0, 0, 0, 0, 0), labels, 2)
    assert.strictEqual(standardErrors(flat).loss, 0, "the same loss on every context has no spread")
  })

  it("evaluation steps: 0, a log-spaced start, every k steps, and the last step", () => {
    assert.deepStrictEqual(evaluationSteps(1000, 250, 4), [0, 1, 4, 16, 63, 250, 500, 750, 1000])
    assert.deepStrictEqual(evaluationSteps(30, 100, 3), [0, 1, 3, 10, 30])
    assert.deepStrictEqual(evaluationSteps(0, 100, 3), [0])
  })
})
