/**
 * Adam (Kingma & Ba), the update of tf.train.adam and torch.optim.Adam without weight decay:
 *   m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²,   w ← w − lr · m̂ / (√v̂ + ε),   m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t).
 * The state is plain arrays so that checkpoints can store it exactly.
 */
import type { TrainingConfig } from "./Config.js"
import type { Gradients } from "./FusedGradient.js"
import type { Weights } from "./Model.js"

export interface AdamState {
  step: number
  readonly m: Gradients
  readonly v: Gradients
}

export const initAdam = (D: number): AdamState => ({
  step: 0,
  m: { kq: new Float64Array(D * D), pv: new Float64Array(D * D) },
  v: { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
})

const updateMatrix = (
  w: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  opts: TrainingConfig,
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

/** One Adam step, in place on the weights and the state. */
export const adamStep = (w: Weights, g: Gradients, state: AdamState, opts: TrainingConfig): void => {
  state.step += 1
  const correction1 = 1 - Math.pow(opts.beta1, state.step)
  const correction2 = 1 - Math.pow(opts.beta2, state.step)
  updateMatrix(w.kq, g.kq, state.m.kq, state.v.kq, opts, correction1, correction2)
  updateMatrix(w.pv, g.pv, state.m.pv, state.v.pv, opts, correction1, correction2)
}
