/**
 * The fused engine for one-layer regression models: loss and analytic gradient in float64, in one pass per task.
 *
 * With one layer only the query token's update reaches the prediction, so the context tokens' updates (n² work per
 * task in the token form that TensorFlow.js evaluates) are never computed:
 *   s_i = c_iᵀ A q,   v_i = p·c_i (p = the label row of P),   ŷ = −Σ_i w_i(s) v_i
 * with w_i = h(s_i)/n (linear, ReLU, exp) or softmax_i(s). For the loss ½ mean (ŷ − y)² and g = (ŷ − y)/B:
 *   ∂L/∂p = g Σ_i (−w_i) c_i,   ∂L/∂A = g (Σ_i κ_i c_i) qᵀ,   κ_i = ∂ŷ/∂s_i
 *   κ_i = −h'(s_i) v_i / n (linear, ReLU, exp),   κ_i = −w_i (v_i − Σ_k w_k v_k) (softmax).
 * Every other weight has zero gradient. The cost is O(n d + d²) per task against O(n² d) for the token form.
 */
import type { RegressionSpec } from "./Model.js"
import type { RegressionBatch } from "./Task.js"

/** The fused engine covers every regression model without an embedding: this kernel one layer, DeepKernel any depth. */
export const fusedCovers = (spec: RegressionSpec): boolean => (spec.embedding ?? null) === null

/** A loss-and-gradient function for tasks with n context points; `grads` is laid out like the parameter vector. */
export const makeOneLayerKernel = (spec: RegressionSpec, n: number) => {
  if (spec.depth !== 1 || !fusedCovers(spec)) throw new Error(`the fused regression engine needs one layer, got ${spec.depth}`)
  const { d, activation } = spec
  const D = d + 1
  const aq = new Float64Array(D)
  const scores = new Float64Array(n)
  const values = new Float64Array(n)
  const weights = new Float64Array(n)
  const pull = new Float64Array(D)
  const push = new Float64Array(D)

  return (params: Float64Array, batch: RegressionBatch, grads: Float64Array): number => {
    grads.fill(0)
    const pRow = D * D + d * D
    const B = batch.size
    let lossSum = 0
    for (let t = 0; t < B; t++) {
      const xq = t * d
      for (let r = 0; r < D; r++) {
        let v = 0
        for (let c = 0; c < d; c++) v += params[r * D + c]! * batch.query[xq + c]!
        aq[r] = v
      }
      let largest = -Infinity
      for (let i = 0; i < n; i++) {
        const xi = (t * n + i) * d
        const yi = batch.y[t * n + i]!
        let s = yi * aq[d]!
        let v = yi * params[pRow + d]!
        for (let k = 0; k < d; k++) {
          s += batch.x[xi + k]! * aq[k]!
          v += batch.x[xi + k]! * params[pRow + k]!
        }
        scores[i] = s
        values[i] = v
        if (s > largest) largest = s
      }
      let mean = 0
      switch (activation) {
        case "linear":
          for (let i = 0; i < n; i++) weights[i] = scores[i]! / n
          break
        case "relu":
          for (let i = 0; i < n; i++) weights[i] = scores[i]! > 0 ? scores[i]! / n : 0
          break
        case "exp":
          for (let i = 0; i < n; i++) weights[i] = Math.exp(scores[i]!) / n
          break
        case "softmax": {
          let total = 0
          for (let i = 0; i < n; i++) {
            weights[i] = Math.exp(scores[i]! - largest)
            total += weights[i]!
          }
          for (let i = 0; i < n; i++) weights[i]! /= total
          break
        }
      }
      for (let i = 0; i < n; i++) mean += weights[i]! * values[i]!
      const prediction = -mean
      const error = prediction - batch.target[t]!
      lossSum += error * error
      const g = error / B
      pull.fill(0)
      push.fill(0)
      for (let i = 0; i < n; i++) {
        const kappa =
          activation === "linear"
            ? -values[i]! / n
            : activation === "relu"
              ? scores[i]! > 0
                ? -values[i]! / n
                : 0
              : activation === "exp"
                ? -weights[i]! * values[i]!
                : -weights[i]! * (values[i]! - mean)
        const xi = (t * n + i) * d
        const yi = batch.y[t * n + i]!
        for (let k = 0; k < d; k++) {
          pull[k]! += kappa * batch.x[xi + k]!
          push[k]! -= weights[i]! * batch.x[xi + k]!
        }
        pull[d]! += kappa * yi
        push[d]! -= weights[i]! * yi
      }
      for (let r = 0; r < D; r++) {
        const gr = g * pull[r]!
        if (gr !== 0) for (let c = 0; c < d; c++) grads[r * D + c]! += gr * batch.query[xq + c]!
        grads[pRow + r]! += g * push[r]!
      }
    }
    return lossSum / (2 * B)
  }
}
