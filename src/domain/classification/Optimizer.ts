/**
 * The optimizer on the model's two weight matrices W_KQ and W_PV: the shared optimizer (domain/Optimizer: Adam or SGD
 * with momentum, the learning-rate schedule, gradient-norm clipping over both matrices together) with one step counter.
 */
import { optimizerStep as stepBlocks, type OptimizerOptions } from "../Optimizer.js"
import type { Gradients } from "./FusedGradient.js"
import type { Weights } from "./Model.js"

export interface OptimizerState {
  step: number
  /** Adam's first moments, or SGD's momentum buffers. */
  readonly m: Gradients
  /** Adam's second moments (0 under SGD). */
  readonly v: Gradients
}

export const initOptimizer = (D: number): OptimizerState => ({
  step: 0,
  m: { kq: new Float64Array(D * D), pv: new Float64Array(D * D) },
  v: { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
})

/** One optimizer step, in place on the weights, the gradient (clipped) and the state. */
export const optimizerStep = (w: Weights, g: Gradients, state: OptimizerState, options: OptimizerOptions): void => {
  const blocks = { step: state.step, m: [state.m.kq, state.m.pv], v: [state.v.kq, state.v.pv] }
  stepBlocks([w.kq, w.pv], [g.kq, g.pv], blocks, options)
  state.step = blocks.step
}
