/**
 * Adam on the model's two weight matrices W_KQ and W_PV: the shared Adam update (domain/Adam) applied to each with one
 * step counter.
 */
import { type AdamOptions, adamUpdate } from "../Adam.js"
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

/** One Adam step, in place on the weights and the state. */
export const adamStep = (w: Weights, g: Gradients, state: AdamState, opts: AdamOptions): void => {
  state.step += 1
  const correction1 = 1 - Math.pow(opts.beta1, state.step)
  const correction2 = 1 - Math.pow(opts.beta2, state.step)
  adamUpdate(w.kq, g.kq, state.m.kq, state.v.kq, opts, correction1, correction2)
  adamUpdate(w.pv, g.pv, state.m.pv, state.v.pv, opts, correction1, correction2)
}
