/**
 * The gradient-descent references of spec §4, in float64 and independent of any tensor library.
 *
 * Every reference predicts logits z = θ · S(x_q), a scalar step θ times a feature vector S ∈ R^C of the context:
 *   gd-linear  (θ = η):  S_c = (1/n) Σ_{i: y_i = c} x_iᵀ x_q                       one GD step on CE from W = 0
 *   kgd-fixed  (θ = η):  S_c = (1/n) Σ_{i: y_i = c} exp((c_σ x_iᵀ x_q − |c_σ|)/√D)  one exp-kernel GD step
 *   ca-kgd     (θ = b):  S_c = Σ_{i: y_i = c} k_i / Σ_j k_j,  k_i = exp(c_σ x_iᵀ x_q/√D)
 *                        one kernel GD step with the context-adaptive rate η(x_q) = c_η / Σ_j k_j, c_η = n·b
 *   ca-gd-linear (θ = b): S_c = Σ_{i: y_i = c} x_iᵀ x_q / Σ_j |x_jᵀ x_q|
 *                        the linear kernel with a context-adaptive rate η(x_q) = c_η / Σ_j |x_jᵀ x_q| (spec §4.4
 *                        "CA-GD-lin", §6 E4's fourth learner): the adaptive rate without the kernel shape. No width
 *                        parameter: a scale of the linear kernel cancels in the ratio. The normaliser is the context's
 *                        total kernel magnitude, not spec §4.4's signed sum Σ_j x_jᵀ x_q: the signed sum is negative in
 *                        17% of the contexts at the main setting (the prediction flips sign there), which leaves the
 *                        zero step as its grid optimum (loss ln C). A normaliser below CA_GD_LINEAR_GUARD is floored.
 * (the (1/C)1 term of the gradient at W = 0 shifts every logit equally and is dropped). The |c_σ| shift in kgd-fixed
 * keeps every kernel value ≤ 1 for either sign of c_σ; it rescales η by exp(|c_σ|/√D), which extraction accounts for.
 * Cross-entropy is convex in θ for fixed features, which the grid search uses.
 */
import type { TaskBatch } from "./Task.js"
import { fastExp } from "../FastExp.js"

export type ReferenceKind = "gd-linear" | "kgd-fixed" | "ca-kgd" | "ca-gd-linear"

/** The references with no kernel width c_σ (their grid search is over the step alone). */
export const widthFree = (kind: ReferenceKind): boolean => kind === "gd-linear" || kind === "ca-gd-linear"

/**
 * The floor of ca-gd-linear's normaliser Σ_j |x_jᵀ x_q|: it vanishes only when every context point is orthogonal to the
 * query, where the logits would otherwise be 0/0.
 */
export const CA_GD_LINEAR_GUARD = 1e-9

export interface ReferenceShape {
  readonly kind: ReferenceKind
  /** D = d + C, the token width that scales the kernel exponent. */
  readonly D: number
  /**
   * ca-kgd and ca-gd-linear: the query attends to itself, adding its own kernel value (exp(c_σ‖x_q‖²/√D), ‖x_q‖²) to
   * the normaliser.
   */
  readonly selfAttend: boolean
}

export interface ReferenceParams {
  /** Kernel inverse width; ignored by gd-linear. */
  readonly cSigma: number
  /** The step: η for gd-linear and kgd-fixed, b for ca-kgd. */
  readonly scale: number
}

/** x_iᵀ x_q for every context point of every task, [N, n]: computed once when many c_σ are tried on one set. */
export const queryDots = (batch: TaskBatch): Float64Array => {
  const { n, d, size } = batch
  const dots = new Float64Array(size * n)
  for (let t = 0; t < size; t++) {
    for (let i = 0; i < n; i++) {
      let dot = 0
      for (let k = 0; k < d; k++) dot += batch.x[(t * n + i) * d + k]! * batch.query[t * d + k]!
      dots[t * n + i] = dot
    }
  }
  return dots
}

/**
 * Features S [N, C] of every task, and their Jacobians ∂S/∂x_q [N, C, d] when asked. Logits are scale · S.
 * `dots` may carry {@link queryDots} of the batch.
 */
export const referenceFeatures = (
  shape: ReferenceShape,
  cSigma: number,
  batch: TaskBatch,
  withJacobian: boolean,
  dots?: Float64Array
): { readonly features: Float64Array; readonly jacobians: Float64Array | undefined } => {
  const { n, d, C, size } = batch
  const features = new Float64Array(size * C)
  const jacobians = withJacobian ? new Float64Array(size * C * d) : undefined
  const kernel = new Float64Array(n)
  const gamma = cSigma / Math.sqrt(shape.D)
  const zGrad = new Float64Array(d)
  for (let t = 0; t < size; t++) {
    const xBase = t * n * d
    const qBase = t * d
    const fBase = t * C
    const jBase = t * C * d
    if (dots) kernel.set(dots.subarray(t * n, (t + 1) * n))
    else {
      for (let i = 0; i < n; i++) {
        let dot = 0
        for (let k = 0; k < d; k++) dot += batch.x[xBase + i * d + k]! * batch.query[qBase + k]!
        kernel[i] = dot
      }
    }
    switch (shape.kind) {
      case "gd-linear": {
        for (let i = 0; i < n; i++) {
          const c = batch.labels[t * n + i]!
          features[fBase + c]! += kernel[i]! / n
          if (jacobians) for (let k = 0; k < d; k++) jacobians[jBase + c * d + k]! += batch.x[xBase + i * d + k]! / n
        }
        break
      }
      case "kgd-fixed": {
        const shift = Math.abs(gamma)
        for (let i = 0; i < n; i++) {
          const c = batch.labels[t * n + i]!
          const k = fastExp(gamma * kernel[i]! - shift) / n
          features[fBase + c]! += k
          if (jacobians) {
            for (let m = 0; m < d; m++) jacobians[jBase + c * d + m]! += k * gamma * batch.x[xBase + i * d + m]!
          }
        }
        break
      }
      case "ca-gd-linear": {
        let total = 0
        if (shape.selfAttend) for (let k = 0; k < d; k++) total += batch.query[qBase + k]! ** 2
        for (let i = 0; i < n; i++) total += Math.abs(kernel[i]!)
        const guarded = total < CA_GD_LINEAR_GUARD
        if (guarded) total = CA_GD_LINEAR_GUARD
        for (let i = 0; i < n; i++) features[fBase + batch.labels[t * n + i]!]! += kernel[i]! / total
        if (jacobians) {
          // ∂S_c = (∂N_c − S_c ∂Z) / Z with ∂(x_iᵀx_q) = x_i, ∂|x_iᵀx_q| = sign(x_iᵀx_q) x_i, ∂‖x_q‖² = 2x_q; a floored
          // Z is constant.
          zGrad.fill(0)
          for (let i = 0; i < n; i++) {
            const c = batch.labels[t * n + i]!
            const sign = Math.sign(kernel[i]!)
            for (let m = 0; m < d; m++) {
              const g = batch.x[xBase + i * d + m]!
              jacobians[jBase + c * d + m]! += g / total
              zGrad[m]! += sign * g
            }
          }
          if (shape.selfAttend) for (let m = 0; m < d; m++) zGrad[m]! += 2 * batch.query[qBase + m]!
          if (!guarded) {
            for (let c = 0; c < C; c++) {
              const s = features[fBase + c]!
              for (let m = 0; m < d; m++) jacobians[jBase + c * d + m]! -= (s * zGrad[m]!) / total
            }
          }
        }
        break
      }
      case "ca-kgd": {
        let qq = 0
        if (shape.selfAttend) for (let k = 0; k < d; k++) qq += batch.query[qBase + k]! ** 2
        // Subtracting the largest exponent leaves every ratio k_i / Σ_j k_j unchanged.
        let max = shape.selfAttend ? gamma * qq : -Infinity
        for (let i = 0; i < n; i++) max = Math.max(max, gamma * kernel[i]!)
        let total = 0
        for (let i = 0; i < n; i++) {
          kernel[i] = fastExp(gamma * kernel[i]! - max)
          total += kernel[i]!
        }
        const selfKernel = shape.selfAttend ? fastExp(gamma * qq - max) : 0
        total += selfKernel
        for (let i = 0; i < n; i++) features[fBase + batch.labels[t * n + i]!]! += kernel[i]! / total
        if (jacobians) {
          // ∂S_c = (∂N_c − S_c ∂Z) / Z with ∂k_i = γ k_i x_i and ∂k_q = 2γ k_q x_q.
          zGrad.fill(0)
          for (let i = 0; i < n; i++) {
            const c = batch.labels[t * n + i]!
            const k = kernel[i]!
            for (let m = 0; m < d; m++) {
              const g = gamma * k * batch.x[xBase + i * d + m]!
              jacobians[jBase + c * d + m]! += g / total
              zGrad[m]! += g
            }
          }
          for (let m = 0; m < d; m++) zGrad[m]! += 2 * gamma * selfKernel * batch.query[qBase + m]!
          for (let c = 0; c < C; c++) {
            const s = features[fBase + c]!
            for (let m = 0; m < d; m++) jacobians[jBase + c * d + m]! -= (s * zGrad[m]!) / total
          }
        }
        break
      }
    }
  }
  return { features, jacobians }
}

/** Logits [N, C] = scale · features (and Jacobians likewise). */
export const referencePredict = (
  shape: ReferenceShape,
  params: ReferenceParams,
  batch: TaskBatch,
  withJacobian: boolean
): { readonly logits: Float64Array; readonly jacobians: Float64Array | undefined } => {
  const { features, jacobians } = referenceFeatures(shape, params.cSigma, batch, withJacobian)
  for (let i = 0; i < features.length; i++) features[i]! *= params.scale
  if (jacobians) for (let i = 0; i < jacobians.length; i++) jacobians[i]! *= params.scale
  return { logits: features, jacobians }
}

/** Mean cross-entropy of logits scale · features against the labels. */
export const meanCrossEntropy = (features: Float64Array, scale: number, labels: Int32Array, C: number): number => {
  let total = 0
  const N = labels.length
  for (let t = 0; t < N; t++) {
    const base = t * C
    let max = -Infinity
    for (let c = 0; c < C; c++) max = Math.max(max, scale * features[base + c]!)
    let sum = 0
    for (let c = 0; c < C; c++) sum += fastExp(scale * features[base + c]! - max)
    total += max + Math.log(sum) - scale * features[base + labels[t]!]!
  }
  return total / N
}

/**
 * The step θ minimising the mean CE of logits θ·S, by damped Newton from `start`. CE is convex in θ, so this is the
 * global minimum over both signs. f'(θ) = mean(E_p[S] − S_c), f''(θ) = mean(Var_p[S]).
 */
/**
 * Mean cross-entropy of logits θ·S over a fixed set of features, and its first two derivatives in θ: what the Newton
 * search for the optimal step needs (computed in JavaScript by {@link scaleObjective}, or by the SIMD kernel).
 */
export interface ScaleObjective {
  readonly loss: (theta: number) => number
  /** f′(θ) = mean(E_p[S] − S_c) and f″(θ) = mean(Var_p[S]). */
  readonly derivatives: (theta: number) => { readonly g: number; readonly h: number }
}

/** The objective of features [N, C] against labels [N], in JavaScript. */
export const scaleObjective = (features: Float64Array, labels: Int32Array, C: number): ScaleObjective => {
  const N = labels.length
  return {
    loss: (theta) => meanCrossEntropy(features, theta, labels, C),
    derivatives: (theta) => {
      let g = 0
      let h = 0
      for (let t = 0; t < N; t++) {
        const base = t * C
        let max = -Infinity
        for (let c = 0; c < C; c++) max = Math.max(max, theta * features[base + c]!)
        let sum = 0
        let m1 = 0
        let m2 = 0
        for (let c = 0; c < C; c++) {
          const s = features[base + c]!
          const e = fastExp(theta * s - max)
          sum += e
          m1 += e * s
          m2 += e * s * s
        }
        m1 /= sum
        m2 /= sum
        g += m1 - features[base + labels[t]!]!
        h += m2 - m1 * m1
      }
      return { g: g / N, h: h / N }
    }
  }
}

/**
 * The step θ minimising the mean CE of logits θ·S, by damped Newton from `start`. CE is convex in θ, so this is the
 * global minimum over both signs. f'(θ) = mean(E_p[S] − S_c), f''(θ) = mean(Var_p[S]).
 */
export const minimizeScale = (
  features: Float64Array,
  labels: Int32Array,
  C: number,
  start = 0
): { readonly scale: number; readonly loss: number } => minimizeObjective(scaleObjective(features, labels, C), start)

/** {@link minimizeScale} on any implementation of the objective. */
export const minimizeObjective = (objective: ScaleObjective, start = 0): { readonly scale: number; readonly loss: number } => {
  let theta = Number.isFinite(start) ? start : 0
  let loss = objective.loss(theta)
  const atZero = objective.loss(0)
  if (!(loss <= atZero)) {
    theta = 0
    loss = atZero
  }
  for (let iteration = 0; iteration < 100; iteration++) {
    const { g, h } = objective.derivatives(theta)
    if (!(h > 1e-300) || Math.abs(g) < 1e-12) break
    let step = -g / h
    let accepted = false
    for (let halving = 0; halving < 60; halving++) {
      const candidate = theta + step
      const candidateLoss = objective.loss(candidate)
      if (candidateLoss <= loss) {
        const converged = Math.abs(step) <= 1e-10 * Math.max(1, Math.abs(theta)) || loss - candidateLoss < 1e-15
        theta = candidate
        loss = candidateLoss
        accepted = !converged
        break
      }
      step /= 2
    }
    if (!accepted) break
  }
  return { scale: theta, loss }
}
