/**
 * Performance and alignment metrics on an evaluation set (spec §5).
 *
 * Per context t of a predictor M with logits z and p = softmax(z): loss −log p[c_q], accuracy, the probability of the
 * correct class p[c_q] and the entropy −Σ p log p (nats). Alignment of two predictors (von Oswald et al., adapted to
 * C classes): preds diff = mean ‖p₁ − p₂‖₂; model cos = mean cos(vec J̃₁, vec J̃₂) and model diff = mean ‖J̃₁ − J̃₂‖₂,
 * with J̃ = ∂(z − mean_c z)/∂x_q; and per-context Pearson correlations of loss, p[c_q] and entropy.
 */
import { fastExp } from "../FastExp.js"
import { type Estimate, meanAndSe, pairedDifference } from "../Results.js"

export interface Predictions {
  readonly logits: Float64Array
  /** ∂z/∂x_q, [N, C, d]. */
  readonly jacobians: Float64Array | undefined
}

export interface PerContext {
  readonly loss: Float64Array
  readonly correct: Uint8Array
  readonly pCorrect: Float64Array
  readonly entropy: Float64Array
  readonly probabilities: Float64Array
}

export interface Performance {
  readonly loss: number
  readonly accuracy: number
  readonly pCorrect: number
  readonly entropy: number
}

export interface Alignment {
  readonly predsDiff: number
  readonly modelCos: number
  /** model cos with Jacobians of the probabilities instead of the centred logits. */
  readonly modelCosProb: number
  readonly modelDiff: number
  readonly lossGap: number
  readonly lossGapRelative: number
  readonly lossCorrelation: number
  readonly pCorrectCorrelation: number
  readonly entropyCorrelation: number
}

export const perContext = (logits: Float64Array, labels: Int32Array, C: number): PerContext => {
  const N = labels.length
  const loss = new Float64Array(N)
  const correct = new Uint8Array(N)
  const pCorrect = new Float64Array(N)
  const entropy = new Float64Array(N)
  const probabilities = new Float64Array(N * C)
  for (let t = 0; t < N; t++) {
    const base = t * C
    let max = -Infinity
    let argmax = 0
    for (let c = 0; c < C; c++) {
      if (logits[base + c]! > max) {
        max = logits[base + c]!
        argmax = c
      }
    }
    let sum = 0
    for (let c = 0; c < C; c++) sum += fastExp(logits[base + c]! - max)
    const logSum = max + Math.log(sum)
    let h = 0
    for (let c = 0; c < C; c++) {
      const logP = logits[base + c]! - logSum
      const p = fastExp(logP)
      probabilities[base + c] = p
      if (p > 0) h -= p * logP
    }
    const target = labels[t]!
    loss[t] = logSum - logits[base + target]!
    correct[t] = argmax === target ? 1 : 0
    pCorrect[t] = probabilities[base + target]!
    entropy[t] = h
  }
  return { loss, correct, pCorrect, entropy, probabilities }
}

const mean = (values: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < values.length; i++) s += values[i]!
  return values.length > 0 ? s / values.length : Number.NaN
}

export const performance = (stats: PerContext): Performance => ({
  loss: mean(stats.loss),
  accuracy: mean(stats.correct),
  pCorrect: mean(stats.pCorrect),
  entropy: mean(stats.entropy)
})

/** The standard error over contexts of each metric of {@link performance} (sample standard deviation / √N). */
export const standardErrors = (stats: PerContext): Performance => ({
  loss: meanAndSe(stats.loss).se,
  accuracy: meanAndSe(stats.correct).se,
  pCorrect: meanAndSe(stats.pCorrect).se,
  entropy: meanAndSe(stats.entropy).se
})

/** Each metric of `a` minus the same metric of `b` on the same contexts: mean and standard error of the differences. */
export interface PairedDifferences {
  readonly loss: Estimate
  readonly accuracy: Estimate
  readonly pCorrect: Estimate
  readonly entropy: Estimate
}

export const pairedDifferences = (a: PerContext, b: PerContext): PairedDifferences => ({
  loss: pairedDifference(a.loss, b.loss),
  accuracy: pairedDifference(a.correct, b.correct),
  pCorrect: pairedDifference(a.pCorrect, b.pCorrect),
  entropy: pairedDifference(a.entropy, b.entropy)
})

/** Pearson correlation; NaN when either side is constant. */
export const pearson = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const ma = mean(a)
  const mb = mean(b)
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma
    const db = b[i]! - mb
    sab += da * db
    saa += da * da
    sbb += db * db
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN
}

/** The 1e-8 guard of von Oswald et al.'s model cos: each vector is divided by (‖g‖ + 1e-8). */
const COSINE_GUARD = 1e-8

/** Writes the centred-logit Jacobian of one context (C×d) into out. */
const centredJacobian = (J: Float64Array, base: number, C: number, d: number, out: Float64Array) => {
  for (let k = 0; k < d; k++) {
    let m = 0
    for (let c = 0; c < C; c++) m += J[base + c * d + k]!
    m /= C
    for (let c = 0; c < C; c++) out[c * d + k] = J[base + c * d + k]! - m
  }
}

/** ∂p/∂x_q = (diag p − p pᵀ) ∂z/∂x_q for one context. */
const probabilityJacobian = (J: Float64Array, base: number, p: Float64Array, pBase: number, C: number, d: number, out: Float64Array) => {
  for (let k = 0; k < d; k++) {
    let pz = 0
    for (let c = 0; c < C; c++) pz += p[pBase + c]! * J[base + c * d + k]!
    for (let c = 0; c < C; c++) out[c * d + k] = p[pBase + c]! * (J[base + c * d + k]! - pz)
  }
}

const guardedCosine = (u: Float64Array, v: Float64Array): number => {
  let uu = 0
  let vv = 0
  let uv = 0
  for (let i = 0; i < u.length; i++) {
    uu += u[i]! * u[i]!
    vv += v[i]! * v[i]!
    uv += u[i]! * v[i]!
  }
  return uv / ((Math.sqrt(uu) + COSINE_GUARD) * (Math.sqrt(vv) + COSINE_GUARD))
}

export const alignment = (
  model: Predictions,
  modelStats: PerContext,
  reference: Predictions,
  referenceStats: PerContext,
  C: number,
  d: number
): Alignment => {
  const N = modelStats.loss.length
  let predsDiff = 0
  for (let t = 0; t < N; t++) {
    let s = 0
    for (let c = 0; c < C; c++) s += (modelStats.probabilities[t * C + c]! - referenceStats.probabilities[t * C + c]!) ** 2
    predsDiff += Math.sqrt(s)
  }
  let modelCos = Number.NaN
  let modelCosProb = Number.NaN
  let modelDiff = Number.NaN
  if (model.jacobians && reference.jacobians) {
    const u = new Float64Array(C * d)
    const v = new Float64Array(C * d)
    let cos = 0
    let cosProb = 0
    let diff = 0
    for (let t = 0; t < N; t++) {
      centredJacobian(model.jacobians, t * C * d, C, d, u)
      centredJacobian(reference.jacobians, t * C * d, C, d, v)
      cos += guardedCosine(u, v)
      let s = 0
      for (let i = 0; i < u.length; i++) s += (u[i]! - v[i]!) ** 2
      diff += Math.sqrt(s)
      probabilityJacobian(model.jacobians, t * C * d, modelStats.probabilities, t * C, C, d, u)
      probabilityJacobian(reference.jacobians, t * C * d, referenceStats.probabilities, t * C, C, d, v)
      cosProb += guardedCosine(u, v)
    }
    modelCos = cos / N
    modelCosProb = cosProb / N
    modelDiff = diff / N
  }
  const lossModel = mean(modelStats.loss)
  const lossReference = mean(referenceStats.loss)
  return {
    predsDiff: predsDiff / N,
    modelCos,
    modelCosProb,
    modelDiff,
    lossGap: lossModel - lossReference,
    lossGapRelative: (lossModel - lossReference) / lossReference,
    lossCorrelation: pearson(modelStats.loss, referenceStats.loss),
    pCorrectCorrelation: pearson(modelStats.pCorrect, referenceStats.pCorrect),
    entropyCorrelation: pearson(modelStats.entropy, referenceStats.entropy)
  }
}
