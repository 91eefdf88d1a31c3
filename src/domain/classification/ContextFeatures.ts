/**
 * What each evaluation context offers its query (spec §6 E10, "adaptability to context"): quantities of the context
 * alone, against which a predictor's confidence is binned.
 *
 *   sameClass       #{i : y_i = c_q}, the number of context points that share the query's class
 *   similarity      (1/n) Σ_i x_iᵀ x_q, the query's mean linear-kernel similarity to the context (cosines on the sphere)
 *   effectiveStep   CA-KGD's context-adaptive step η(x_q) = c_η / Σ_j k_j with k_j = exp(c_σ x_jᵀ x_q/√D) and c_η = n·b
 *                   (spec §4.3), at given (c_σ, b); plus the query's own k_q when it attends to itself
 */
import type { ReferenceParams, ReferenceShape } from "./GdMath.js"
import type { TaskBatch } from "./Task.js"

export interface ContextFeatures {
  /** [N] */
  readonly sameClass: Int32Array
  /** [N] */
  readonly similarity: Float64Array
}

export const contextFeatures = (batch: TaskBatch): ContextFeatures => {
  const { n, d, size } = batch
  const sameClass = new Int32Array(size)
  const similarity = new Float64Array(size)
  for (let t = 0; t < size; t++) {
    let same = 0
    let total = 0
    for (let i = 0; i < n; i++) {
      if (batch.labels[t * n + i] === batch.queryLabel[t]) same++
      let dot = 0
      for (let k = 0; k < d; k++) dot += batch.x[(t * n + i) * d + k]! * batch.query[t * d + k]!
      total += dot
    }
    sameClass[t] = same
    similarity[t] = total / n
  }
  return { sameClass, similarity }
}

/**
 * η(x_q) = c_η / Σ_j k_j of every context [N] at CA-KGD parameters (c_σ, b), c_η = n·b; computed through log Σ_j k_j,
 * so that a large |c_σ| neither overflows nor loses the ratio. Its sign is b's: negative for elimination solutions.
 */
export const effectiveSteps = (shape: Pick<ReferenceShape, "D" | "selfAttend">, params: ReferenceParams, batch: TaskBatch): Float64Array => {
  const { n, d, size } = batch
  const gamma = params.cSigma / Math.sqrt(shape.D)
  const cEta = n * params.scale
  const out = new Float64Array(size)
  const exponents = new Float64Array(n + 1)
  for (let t = 0; t < size; t++) {
    let max = -Infinity
    const keys = shape.selfAttend ? n + 1 : n
    for (let j = 0; j < keys; j++) {
      let dot = 0
      for (let k = 0; k < d; k++) dot += (j < n ? batch.x[(t * n + j) * d + k]! : batch.query[t * d + k]!) * batch.query[t * d + k]!
      exponents[j] = gamma * dot
      max = Math.max(max, exponents[j]!)
    }
    let sum = 0
    for (let j = 0; j < keys; j++) sum += Math.exp(exponents[j]! - max)
    out[t] = cEta * Math.exp(-(max + Math.log(sum)))
  }
  return out
}
