/**
 * Adam (Kingma & Ba), the update of tf.train.adam and torch.optim.Adam without weight decay:
 *   m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²,   w ← w − lr · m̂ / (√v̂ + ε),   m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t).
 * The state is plain arrays so that checkpoints can store it exactly.
 */
import type { TrainingConfig } from "./ConfigSchema.js"

export type AdamOptions = Pick<TrainingConfig, "learningRate" | "beta1" | "beta2" | "epsilon">

/** One Adam update of a parameter vector, given its moments and the bias corrections 1 − β^t. */
export const adamUpdate = (
  w: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  opts: AdamOptions,
  correction1: number,
  correction2: number
) => {
  const { beta1, beta2, learningRate, epsilon } = opts
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!
    const mi = beta1 * m[i]! + (1 - beta1) * gi
    const vi = beta2 * v[i]! + (1 - beta2) * gi * gi
    m[i] = mi
    v[i] = vi
    w[i]! -= (learningRate * (mi / correction1)) / (Math.sqrt(vi / correction2) + epsilon)
  }
}

/** The Adam state of a flat parameter vector (the regression models'). */
export interface VectorAdamState {
  step: number
  readonly m: Float64Array
  readonly v: Float64Array
}

export const initVectorAdam = (size: number): VectorAdamState => ({ step: 0, m: new Float64Array(size), v: new Float64Array(size) })

/** One Adam step on a flat parameter vector, in place. */
export const vectorAdamStep = (w: Float64Array, g: Float64Array, state: VectorAdamState, opts: AdamOptions): void => {
  state.step += 1
  adamUpdate(w, g, state.m, state.v, opts, 1 - Math.pow(opts.beta1, state.step), 1 - Math.pow(opts.beta2, state.step))
}
