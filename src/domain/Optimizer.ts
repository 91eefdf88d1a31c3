/**
 * The optimizer every kind trains with, on a model's weights held as flat blocks (W_KQ and W_PV; a regression model's
 * one parameter vector). One step, with t the step's number (1-based) and η_t its learning rate (domain/LearningRate):
 *   clipping (clipGradientNorm = c):  g ← g · c / ‖g‖ when ‖g‖ > c, ‖g‖ the L2 norm over every block together
 *                                     (torch.nn.utils.clip_grad_norm_, optax.clip_by_global_norm)
 *   Adam (Kingma & Ba), the update of torch.optim.Adam and tf.train.adam without weight decay:
 *     m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²,   w ← w − η_t · m̂ / (√v̂ + ε),   m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t)
 *   SGD with momentum μ, torch.optim.SGD's form (no dampening):  m ← μ m + g,   w ← w − η_t · m
 * The state is plain arrays so that checkpoints store it exactly; SGD keeps its momentum buffer in m and leaves v at 0.
 * At the defaults (constant rate, no clipping) a step is bit-for-bit the Adam step from before these options existed.
 */
import type { TrainingConfig } from "./ConfigSchema.js"
import { learningRateAt, type ScheduleOptions } from "./LearningRate.js"

export type OptimizerOptions = ScheduleOptions &
  Pick<TrainingConfig, "optimizer" | "beta1" | "beta2" | "epsilon" | "momentum" | "clipGradientNorm">

/** One Adam update of a block at rate `rate`, given its moments and the bias corrections 1 − β^t. */
export const adamUpdate = (
  w: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  options: Pick<TrainingConfig, "beta1" | "beta2" | "epsilon">,
  rate: number,
  correction1: number,
  correction2: number
) => {
  const { beta1, beta2, epsilon } = options
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!
    const mi = beta1 * m[i]! + (1 - beta1) * gi
    const vi = beta2 * v[i]! + (1 - beta2) * gi * gi
    m[i] = mi
    v[i] = vi
    w[i]! -= (rate * (mi / correction1)) / (Math.sqrt(vi / correction2) + epsilon)
  }
}

/** One SGD-with-momentum update of a block at rate `rate`: m ← μ m + g, w ← w − rate · m. */
export const sgdUpdate = (w: Float64Array, g: Float64Array, m: Float64Array, momentum: number, rate: number) => {
  for (let i = 0; i < w.length; i++) {
    const mi = momentum * m[i]! + g[i]!
    m[i] = mi
    w[i]! -= rate * mi
  }
}

/** The L2 norm of a gradient held in blocks, over every block together. */
export const gradientNorm = (grads: ReadonlyArray<Float64Array>): number => {
  let sum = 0
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!
  return Math.sqrt(sum)
}

/**
 * Rescales the gradient in place to norm `maxNorm` when its norm is larger (null: no clipping). Returns the norm
 * before clipping.
 */
export const clipGradients = (grads: ReadonlyArray<Float64Array>, maxNorm: number | null): number => {
  const norm = gradientNorm(grads)
  if (maxNorm !== null && norm > maxNorm) {
    const factor = maxNorm / norm
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i]! *= factor
  }
  return norm
}

/** The optimizer's state for weights in blocks: one step counter, and per block the moments (SGD: m only). */
export interface OptimizerState {
  /** The number of steps taken (the last step's t). */
  step: number
  readonly m: ReadonlyArray<Float64Array>
  readonly v: ReadonlyArray<Float64Array>
}

/**
 * One optimizer step in place on the weights and the state (the gradient is clipped in place first). Blocks are
 * matched by index: weights[k], grads[k], state.m[k], state.v[k].
 */
export const optimizerStep = (
  weights: ReadonlyArray<Float64Array>,
  grads: ReadonlyArray<Float64Array>,
  state: OptimizerState,
  options: OptimizerOptions
): void => {
  state.step += 1
  const rate = learningRateAt(options, state.step)
  if (options.clipGradientNorm !== null) clipGradients(grads, options.clipGradientNorm)
  if (options.optimizer === "sgd") {
    for (let k = 0; k < weights.length; k++) sgdUpdate(weights[k]!, grads[k]!, state.m[k]!, options.momentum, rate)
    return
  }
  const correction1 = 1 - Math.pow(options.beta1, state.step)
  const correction2 = 1 - Math.pow(options.beta2, state.step)
  for (let k = 0; k < weights.length; k++) {
    adamUpdate(weights[k]!, grads[k]!, state.m[k]!, state.v[k]!, options, rate, correction1, correction2)
  }
}

/** The state of a flat parameter vector (the regression models'). */
export interface VectorOptimizerState {
  step: number
  readonly m: Float64Array
  readonly v: Float64Array
}

export const initVectorOptimizer = (size: number): VectorOptimizerState => ({
  step: 0,
  m: new Float64Array(size),
  v: new Float64Array(size)
})

/** One optimizer step on a flat parameter vector, in place. */
export const vectorOptimizerStep = (w: Float64Array, g: Float64Array, state: VectorOptimizerState, options: OptimizerOptions): void => {
  const blocks: OptimizerState = { step: state.step, m: [state.m], v: [state.v] }
  optimizerStep([w], [g], blocks, options)
  state.step = blocks.step
}
