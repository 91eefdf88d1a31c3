/**
 * A classification run's checkpoint: everything needed to continue training exactly where it stopped. Batches are a
 * pure function of (seed, step), so the step is the whole RNG position; the metrics rows written so far are the
 * position in the metrics stream. Stored in the checksummed format of domain/Checkpoint.
 */
import { decodeChecked, encodeChecked } from "../Checkpoint.js"
import type { Weights } from "./Model.js"
import type { OptimizerState } from "./Optimizer.js"

export interface CheckpointState {
  /** The last optimizer step taken. */
  readonly step: number
  readonly weights: Weights
  /** Adam's moments or SGD's momentum buffer (stored under "adam" whichever optimizer: the format predates SGD). */
  readonly optimizer: OptimizerState
  /** metrics.jsonl lines up to this step. */
  readonly rows: ReadonlyArray<string>
  /** Training-loss accumulator since the last evaluation point. */
  readonly lossSum: number
  readonly lossCount: number
  /** Seconds spent so far per phase (for run.json only). */
  readonly clock: Readonly<Record<"references" | "training" | "evaluation" | "checkpoints", number>>
}

export const encodeCheckpoint = (state: CheckpointState): string =>
  encodeChecked({
    step: state.step,
    D: state.weights.D,
    kq: Array.from(state.weights.kq),
    pv: Array.from(state.weights.pv),
    adam: {
      step: state.optimizer.step,
      mkq: Array.from(state.optimizer.m.kq),
      mpv: Array.from(state.optimizer.m.pv),
      vkq: Array.from(state.optimizer.v.kq),
      vpv: Array.from(state.optimizer.v.pv)
    },
    rows: state.rows,
    lossSum: state.lossSum,
    lossCount: state.lossCount,
    clock: state.clock
  })

/** The checkpoint in a text, or the reason it cannot be trusted. */
export const decodeCheckpoint = (text: string): { readonly state: CheckpointState } | { readonly problem: string } => {
  const decoded = decodeChecked(text)
  if ("problem" in decoded) return decoded
  const p = decoded.payload as {
    step: number
    D: number
    kq: Array<number>
    pv: Array<number>
    adam: { step: number; mkq: Array<number>; mpv: Array<number>; vkq: Array<number>; vpv: Array<number> }
    rows: Array<string>
    lossSum: number
    lossCount: number
    clock: CheckpointState["clock"]
  }
  const vector = (values: ReadonlyArray<number>) => Float64Array.from(values)
  return {
    state: {
      step: p.step,
      weights: { D: p.D, kq: vector(p.kq), pv: vector(p.pv) },
      optimizer: {
        step: p.adam.step,
        m: { kq: vector(p.adam.mkq), pv: vector(p.adam.mpv) },
        v: { kq: vector(p.adam.vkq), pv: vector(p.adam.vpv) }
      },
      rows: p.rows,
      lossSum: p.lossSum,
      lossCount: p.lossCount,
      clock: p.clock
    }
  }
}
