/**
 * A run's checkpoint: everything needed to continue training exactly where it stopped. Batches are a pure function
 * of (seed, step), so the step is the whole RNG position; the metrics rows written so far are the position in the
 * metrics stream. The text is a header line with a SHA-256 of the payload, then the payload: a truncated or altered
 * file fails the check.
 */
import { createHash } from "node:crypto"
import type { AdamState } from "./Adam.js"
import type { Weights } from "./Model.js"

export interface CheckpointState {
  /** The last optimizer step taken. */
  readonly step: number
  readonly weights: Weights
  readonly optimizer: AdamState
  /** metrics.jsonl lines up to this step. */
  readonly rows: ReadonlyArray<string>
  /** Training-loss accumulator since the last evaluation point. */
  readonly lossSum: number
  readonly lossCount: number
  /** Seconds spent so far per phase (for run.json only). */
  readonly clock: Readonly<Record<"references" | "training" | "evaluation" | "checkpoints", number>>
}

const HEADER = "icl-gd-checkpoint v1"

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** A payload under a checksummed header line. JSON keeps every float64 exactly (shortest round-trip form). */
export const encodeChecked = (payload: unknown): string => {
  const text = JSON.stringify(payload)
  return `${HEADER} ${sha256(text)}\n${text}`
}

/** The payload of a checksummed text, or the reason it cannot be trusted. */
export const decodeChecked = (text: string): { readonly payload: unknown } | { readonly problem: string } => {
  const newline = text.indexOf("\n")
  if (newline < 0) return { problem: "no header line (truncated?)" }
  const header = text.slice(0, newline)
  const payload = text.slice(newline + 1)
  if (!header.startsWith(`${HEADER} `)) return { problem: "not an icl-gd checkpoint" }
  if (header.slice(HEADER.length + 1) !== sha256(payload)) return { problem: "checksum mismatch (truncated or altered)" }
  try {
    return { payload: JSON.parse(payload) }
  } catch (error) {
    return { problem: `unreadable payload: ${error instanceof Error ? error.message : String(error)}` }
  }
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
