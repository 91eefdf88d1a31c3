/**
 * The fixed non-linear feature map of the "random-features" task family (von Oswald et al.'s non-linear regression,
 * "linear models on deep data representations"): one random tanh layer
 *   φ(x) = tanh(U x + b) ∈ R^m,   U_kj ~ N(0, g²/d),   b_k ~ N(0, g²/3)
 * drawn once from `featureSeed` and shared by every task; a task is y = w·φ(x)/√m (+ noise) with its own w ~ N(0, I_m).
 * With x uniform in [−1, 1]^d each pre-activation u_k·x has variance g²/3, like its bias, so the gain g sets how far
 * into tanh's bends the features reach (g = 2: standard deviation 1.6, clearly non-linear). The target is linear in
 * φ(x) but not in x: GD on x cannot fit it, GD on φ(x) can.
 */
import { keyedRng } from "../Rng.js"
import type { Predictions } from "./Model.js"
import { allocateRegressionBatch, type RegressionBatch } from "./Task.js"

export interface FeatureMap {
  /** Input dimension d. */
  readonly d: number
  /** Number of features m. */
  readonly m: number
  /** U [m, d], row-major. */
  readonly weights: Float64Array
  /** b [m]. */
  readonly bias: Float64Array
}

export const featureMapOf = (task: { readonly d: number; readonly features: number; readonly featureGain: number; readonly featureSeed: number }): FeatureMap => {
  const { d, features: m, featureGain: g } = task
  const rng = keyedRng(task.featureSeed, "features", 0)
  const weights = new Float64Array(m * d)
  const bias = new Float64Array(m)
  rng.fillNormals(weights, 0, m * d)
  rng.fillNormals(bias, 0, m)
  const wScale = g / Math.sqrt(d)
  const bScale = g / Math.sqrt(3)
  for (let i = 0; i < m * d; i++) weights[i]! *= wScale
  for (let k = 0; k < m; k++) bias[k]! *= bScale
  return { d, m, weights, bias }
}

/** φ(x) for x = source[offset…offset + d), written to out[outOffset…outOffset + m), each multiplied by `scale`. */
export const featuresInto = (map: FeatureMap, source: Float64Array, offset: number, out: Float64Array, outOffset: number, scale = 1): void => {
  const { d, m, weights, bias } = map
  for (let k = 0; k < m; k++) {
    let u = bias[k]!
    for (let j = 0; j < d; j++) u += weights[k * d + j]! * source[offset + j]!
    out[outOffset + k] = scale * Math.tanh(u)
  }
}

/**
 * The gradient in x of Σ_k c_k φ_k(x)·scale at x = source[offset…): Σ_k c_k scale (1 − φ_k²) U_k, added into
 * out[outOffset…outOffset + d).
 */
export const addFeatureGradient = (
  map: FeatureMap,
  source: Float64Array,
  offset: number,
  coefficients: Float64Array,
  cOffset: number,
  out: Float64Array,
  outOffset: number,
  scale = 1
): void => {
  const { d, m, weights, bias } = map
  for (let k = 0; k < m; k++) {
    let u = bias[k]!
    for (let j = 0; j < d; j++) u += weights[k * d + j]! * source[offset + j]!
    const t = Math.tanh(u)
    const slope = coefficients[cOffset + k]! * scale * (1 - t * t)
    for (let j = 0; j < d; j++) out[outOffset + j]! += slope * weights[k * d + j]!
  }
}

/** The batch with every input x replaced by φ(x)/√m (so d becomes m): what GD on the true features sees. */
export const featureBatch = (map: FeatureMap, batch: RegressionBatch): RegressionBatch => {
  const { n, size } = batch
  const { d, m } = map
  const out = allocateRegressionBatch(size, n, m)
  const scale = 1 / Math.sqrt(m)
  for (let i = 0; i < size * n; i++) featuresInto(map, batch.x, i * d, out.x, i * m, scale)
  for (let t = 0; t < size; t++) featuresInto(map, batch.query, t * d, out.query, t * m, scale)
  out.y.set(batch.y)
  out.target.set(batch.target)
  return out
}

/**
 * Predictions computed on featureBatch(map, batch), with their sensitivities taken back to the raw query input:
 * ∂ŷ/∂x_q = Σ_k (∂ŷ/∂z_k) (1 − φ_k²) U_k / √m.
 */
export const throughFeatures = (map: FeatureMap, batch: RegressionBatch, predictions: Predictions): Predictions => {
  const { d, m } = map
  const sensitivity = new Float64Array(batch.size * d)
  const scale = 1 / Math.sqrt(m)
  for (let t = 0; t < batch.size; t++) {
    addFeatureGradient(map, batch.query, t * d, predictions.sensitivity, t * m, sensitivity, t * d, scale)
  }
  return { prediction: predictions.prediction, sensitivity }
}
