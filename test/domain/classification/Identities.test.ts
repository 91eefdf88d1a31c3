/**
 * The identities of spec Appendix A, in float64: the GD constructions are exactly one (kernel) GD step.
 * Setting of the appendix: d = 5, C = 4, n = 32, unit-norm inputs, a = 0.7, b = 3.0, c_σ = 2.5.
 */
import { assert, describe, it } from "@effect/vitest"
import { constructionWeights, extractParameters } from "../../../src/domain/classification/Extraction.js"
import { referenceFeatures, referencePredict } from "../../../src/domain/classification/GdMath.js"
import { perContext } from "../../../src/domain/classification/Metrics.js"
import { forwardBatch } from "../../../src/domain/classification/Model.js"
import {
  assertClose,
  FD_STEP,
  FINITE_DIFFERENCE,
  FLOAT64_IDENTITY,
  maxAbsDiff,
  spec,
  tasks
} from "../../helpers.js"

const d = 5
const C = 4
const n = 32
const D = d + C
const set = tasks({ d, C, n }, 64)
const a = 0.7
const b = 3.0
const cSigma = 2.5

/** Empirical CE on the context of task t for a linear classifier W (C×d): −(1/n) Σ_i log softmax(W x_i)[y_i]. */
const contextLoss = (W: Float64Array, t: number): number => {
  let total = 0
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: C }, (_, c) => {
      let s = 0
      for (let k = 0; k < d; k++) s += W[c * d + k]! * set.x[(t * n + i) * d + k]!
      return s
    })
    const max = Math.max(...z)
    const lse = max + Math.log(z.reduce((acc, v) => acc + Math.exp(v - max), 0))
    total += lse - z[set.labels[t * n + i]!]!
  }
  return total / n
}

const numericalGradient = (f: (W: Float64Array) => number, W: Float64Array): Float64Array => {
  const g = new Float64Array(W.length)
  for (let i = 0; i < W.length; i++) {
    const plus = W.slice()
    const minus = W.slice()
    plus[i]! += FD_STEP
    minus[i]! -= FD_STEP
    g[i] = (f(plus) - f(minus)) / (2 * FD_STEP)
  }
  return g
}

describe("Appendix A: constructions equal GD steps (float64)", () => {
  it("A1: linear SA with A = aI, B_yy = bI gives logits (ab/n) Σ y_i x_iᵀ x_q", () => {
    const model = forwardBatch(spec("linear", d, C), constructionWeights(spec("linear", d, C), a, b), set, false)
    const reference = referencePredict({ kind: "gd-linear", D, selfAttend: false }, { cSigma: 0, scale: a * b }, set, false)
    assertClose(model.logits, reference.logits, FLOAT64_IDENTITY, "LSA vs GD-lin logits")
  })

  it("A2: the CE gradient at W = 0 is (1/n) Σ ((1/C)1 − y_i) x_iᵀ: GD-lin's features and their Jacobian are −∇ up to the dropped (1/C)1 term", () => {
    // The product's GD-lin reference predicts S_c = (1/n) Σ_{y_i = c} x_iᵀ x_q with ∂S_c/∂x_q = (1/n) Σ_{y_i = c} x_i.
    // The gradient G (C×d) at W = 0, from finite differences of the context loss, must satisfy
    // −G = ∂S/∂x_q − mean_c ∂S/∂x_q and −G x_q = S − mean_c S (the (1/C)1 term shifts every logit equally).
    const { features, jacobians } = referenceFeatures({ kind: "gd-linear", D, selfAttend: false }, 0, set, true)
    for (const t of [0, 1, 2]) {
      const G = numericalGradient((W) => contextLoss(W, t), new Float64Array(C * d))
      const J = jacobians!.subarray(t * C * d, (t + 1) * C * d)
      const centred = new Float64Array(C * d)
      for (let k = 0; k < d; k++) {
        let mean = 0
        for (let c = 0; c < C; c++) mean += J[c * d + k]! / C
        for (let c = 0; c < C; c++) centred[c * d + k] = J[c * d + k]! - mean
      }
      assertClose(G.map((g) => -g), centred, FINITE_DIFFERENCE, `task ${t}: −∇ against the centred Jacobian`)
      const S = features.subarray(t * C, (t + 1) * C)
      const meanS = S.reduce((acc, v) => acc + v, 0) / C
      const step = Array.from({ length: C }, (_, c) => {
        let s = 0
        for (let k = 0; k < d; k++) s -= G[c * d + k]! * set.query[t * d + k]!
        return s
      })
      assertClose(step, S.map((v) => v - meanS), FINITE_DIFFERENCE, `task ${t}: −∇ x_q against the centred features`)
    }
  })

  it("A3: one explicit GD step from W = 0 predicts what linear SA predicts", () => {
    const eta = a * b
    const model = forwardBatch(spec("linear", d, C), constructionWeights(spec("linear", d, C), a, b), set, false)
    const modelP = perContext(model.logits, set.queryLabel, C).probabilities
    for (const t of [0, 5, 9]) {
      const W1 = numericalGradient((W) => contextLoss(W, t), new Float64Array(C * d)).map((g) => -eta * g)
      const z = Array.from({ length: C }, (_, c) => {
        let s = 0
        for (let k = 0; k < d; k++) s += W1[c * d + k]! * set.query[t * d + k]!
        return s
      })
      const p = perContext(Float64Array.from(z), Int32Array.of(set.queryLabel[t]!), C).probabilities
      assertClose(p, modelP.subarray(t * C, (t + 1) * C), FINITE_DIFFERENCE, `task ${t}`)
    }
  })

  it("A4: softmax SA (context keys) gives b Σ y_i k_i / Σ_j k_j", () => {
    const s = spec("softmax", d, C, false)
    const model = forwardBatch(s, constructionWeights(s, cSigma, b), set, false)
    const reference = referencePredict({ kind: "ca-kgd", D, selfAttend: false }, { cSigma, scale: b }, set, false)
    assertClose(model.logits, reference.logits, FLOAT64_IDENTITY, "SSA vs CA-KGD logits")
  })

  it("A5: softmax SA with the query attending to itself adds its kernel to the normaliser", () => {
    const s = spec("softmax", d, C, true)
    const model = forwardBatch(s, constructionWeights(s, cSigma, b), set, false)
    const reference = referencePredict({ kind: "ca-kgd", D, selfAttend: true }, { cSigma, scale: b }, set, false)
    assertClose(model.logits, reference.logits, FLOAT64_IDENTITY, "SSA (self-attending) vs CA-KGD logits")
    const contextOnly = referencePredict({ kind: "ca-kgd", D, selfAttend: false }, { cSigma, scale: b }, set, false)
    assert.isAbove(maxAbsDiff(model.logits, contextOnly.logits), 1e-3, "the self term must matter")
  })

  it("A6: on the sphere, normalised exp-dot weights equal normalised RBF weights with σ² = √D/c_σ: CA-KGD's features are RBF-weighted label frequencies", () => {
    // The product's CA-KGD reference computes S_c = Σ_{y_i = c} k_i / Σ_j k_j with k_i = exp(c_σ x_iᵀ x_q/√D); here the
    // same frequencies with RBF weights exp(−‖x_i − x_q‖²/(2σ²)), written out by hand.
    const sigma2 = Math.sqrt(D) / cSigma
    const { features } = referenceFeatures({ kind: "ca-kgd", D, selfAttend: false }, cSigma, set, false)
    for (let t = 0; t < 8; t++) {
      const rbf = new Float64Array(C)
      let total = 0
      for (let i = 0; i < n; i++) {
        let dist2 = 0
        for (let k = 0; k < d; k++) dist2 += (set.x[(t * n + i) * d + k]! - set.query[t * d + k]!) ** 2
        const w = Math.exp(-dist2 / (2 * sigma2))
        rbf[set.labels[t * n + i]!]! += w
        total += w
      }
      assertClose(features.subarray(t * C, (t + 1) * C), rbf.map((w) => w / total), FLOAT64_IDENTITY, `task ${t}`)
    }
  })

  it("A7: the analytic Jacobians of every reference match finite differences", () => {
    const small = tasks({ d: 6, C: 4, n: 15 }, 4, 11)
    for (const shape of [
      { kind: "gd-linear", D: 10, selfAttend: false },
      { kind: "kgd-fixed", D: 10, selfAttend: false },
      { kind: "ca-kgd", D: 10, selfAttend: false },
      { kind: "ca-kgd", D: 10, selfAttend: true },
      { kind: "ca-gd-linear", D: 10, selfAttend: false },
      { kind: "ca-gd-linear", D: 10, selfAttend: true }
    ] as const) {
      const { jacobians } = referenceFeatures(shape, cSigma, small, true)
      for (let t = 0; t < small.size; t++) {
        for (let k = 0; k < 6; k++) {
          const shifted = (h: number) => {
            const query = small.query.slice()
            query[t * 6 + k]! += h
            return referenceFeatures(shape, cSigma, { ...small, query }, false).features.subarray(t * 4, (t + 1) * 4)
          }
          const plus = shifted(FD_STEP)
          const minus = shifted(-FD_STEP)
          for (let c = 0; c < 4; c++) {
            const numerical = (plus[c]! - minus[c]!) / (2 * FD_STEP)
            const analytic = jacobians![t * 24 + c * 6 + k]!
            assert.isTrue(Math.abs(numerical - analytic) < FINITE_DIFFERENCE, `${shape.kind} t=${t} c=${c} k=${k}: ${numerical} vs ${analytic}`)
          }
        }
      }
    }
  })

  it("exp-kernel SA with the construction is KGD-fixed at the extracted η, for either sign of c_σ", () => {
    for (const [cs, bb, shift] of [
      [cSigma, b, 0],
      [-cSigma, -b, 0.3]
    ] as const) {
      const s = { ...spec("exp", d, C), expShift: shift }
      const w = constructionWeights(s, cs, bb)
      const model = forwardBatch(s, w, set, false)
      const extracted = extractParameters(s, w, n)
      assert.strictEqual(extracted.reference, "kgd-fixed")
      const reference = referencePredict({ kind: "kgd-fixed", D, selfAttend: false }, extracted.params, set, false)
      assertClose(model.logits, reference.logits, FLOAT64_IDENTITY, `c_σ = ${cs}`)
    }
  })

  it("adding c·11ᵀ to B_yy leaves the probabilities unchanged", () => {
    for (const attention of ["linear", "softmax", "exp"] as const) {
      const s = spec(attention, d, C)
      const w = constructionWeights(s, attention === "linear" ? a : cSigma, b)
      const shifted = { ...w, pv: w.pv.slice() }
      for (let r = d; r < D; r++) for (let c = d; c < D; c++) shifted.pv[r * D + c]! += 0.37
      const p0 = perContext(forwardBatch(s, w, set, false).logits, set.queryLabel, C).probabilities
      const p1 = perContext(forwardBatch(s, shifted, set, false).logits, set.queryLabel, C).probabilities
      assertClose(p1, p0, FLOAT64_IDENTITY, attention)
    }
  })
})
