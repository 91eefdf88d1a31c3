/**
 * One-layer, single-head self-attention over tokens e_i = [x_i; y_i] and the query e_q = [x_q; 0] (spec §2), in
 * float64 and framework-free: the reference forward pass that evaluation, the alignment metrics and the tests use.
 *
 * Only the query column is computed. With u = W_KQ e_q and score_j = e_jᵀ u over the keys j:
 *   linear:  a_j = score_j / n                              (keys: context and query)
 *   softmax: a = softmax(score / √D)                        (keys: context only, unless attendToQuery)
 *   exp:     a_j = exp(score_j / √D − expShift) / n         (keys: context and query)
 *   h = Σ_j a_j e_j,   logits z = W_PV[d:, :] h.
 * Weights are row-major D×D matrices, D = d + C.
 */
import type { Attention, ExperimentConfig } from "./Config.js"
import { resolveAttendToQuery } from "./Config.js"
import { keyedRng } from "../Rng.js"
import type { TaskBatch } from "./Task.js"
import { fastExp } from "../FastExp.js"
import type { InitDistribution } from "../ConfigSchema.js"
import { fillInitial } from "../Initialisation.js"

export interface ModelSpec {
  readonly attention: Attention
  readonly attendToQuery: boolean
  readonly expShift: number
  readonly d: number
  readonly C: number
}

export const modelSpecOf = (config: Pick<ExperimentConfig, "model" | "task">): ModelSpec => ({
  attention: config.model.attention,
  attendToQuery: resolveAttendToQuery(config.model),
  expShift: config.model.expShift,
  d: config.task.d,
  C: config.task.C
})

export interface Weights {
  readonly D: number
  readonly kq: Float64Array
  readonly pv: Float64Array
}

/**
 * Every entry iid with standard deviation `scale` (N(0, scale²) by default; see domain/Initialisation), W_KQ's entries
 * first, then W_PV's, from the seed's init stream (spec §3: never 0, which is a saddle for LSA); then `offset.a` added
 * to the diagonal of A (W_KQ's input block) and `offset.b` to that of B_yy (W_PV's label block), the construction's
 * directions (0 by default).
 */
export const initWeights = (
  spec: ModelSpec,
  seed: number,
  scale: number,
  distribution: InitDistribution = "normal",
  offset: { readonly a: number; readonly b: number } = { a: 0, b: 0 }
): Weights => {
  const D = spec.d + spec.C
  const rng = keyedRng(seed, "init", 0)
  const kq = new Float64Array(D * D)
  const pv = new Float64Array(D * D)
  fillInitial(rng, kq, 0, D * D, scale, distribution)
  fillInitial(rng, pv, 0, D * D, scale, distribution)
  if (offset.a !== 0) for (let k = 0; k < spec.d; k++) kq[k * D + k]! += offset.a
  if (offset.b !== 0) for (let c = spec.d; c < D; c++) pv[c * D + c]! += offset.b
  return { D, kq, pv }
}

export const copyWeights = (w: Weights): Weights => ({ D: w.D, kq: w.kq.slice(), pv: w.pv.slice() })

/**
 * In place: every entry of a pair of D×D matrices (weights or their gradients) outside the blocks the GD
 * construction reads set to 0, A = W_KQ[:d, :d] and B_yy = W_PV[d:, d:] kept (spec §2.2 restrict_blocks). Applied to
 * the initial weights and to every gradient, it trains A and B_yy alone with the rest fixed at 0.
 */
export const restrictToConstructionBlocks = (m: { readonly kq: Float64Array; readonly pv: Float64Array }, d: number, D: number): void => {
  for (let r = 0; r < D; r++) {
    for (let c = 0; c < D; c++) {
      if (!(r < d && c < d)) m.kq[r * D + c] = 0
      if (!(r >= d && c >= d)) m.pv[r * D + c] = 0
    }
  }
}

/** Scratch space for {@link forwardTask}, reused across tasks of one batch. */
export class ForwardScratch {
  readonly u: Float64Array
  readonly scores: Float64Array
  readonly attn: Float64Array
  readonly h: Float64Array
  /** Σ_j c_j e_j e_jᵀ over the context keys, D×D (see {@link forwardTask}). */
  readonly moment: Float64Array
  /** ∂h/∂x_q, D×d (row-major, d ≤ D). */
  readonly dh: Float64Array
  /** Σ_k a_k ∂s_k/∂x_q (softmax), and ∂s_q/∂x_q for the query key. */
  readonly meanScoreTangent: Float64Array
  readonly queryScoreTangent: Float64Array
  constructor(D: number, keys: number) {
    this.u = new Float64Array(D)
    this.scores = new Float64Array(keys)
    this.attn = new Float64Array(keys)
    this.h = new Float64Array(D)
    this.moment = new Float64Array(D * D)
    this.dh = new Float64Array(D * D)
    this.meanScoreTangent = new Float64Array(D)
    this.queryScoreTangent = new Float64Array(D)
  }
}

/**
 * Attention weights from raw scores (in place): the activation of spec §2.3–2.5. `keys` counts the context keys plus
 * the query key when it attends to itself; n is the context length.
 */
const activate = (spec: ModelSpec, scores: Float64Array, attn: Float64Array, keys: number, n: number, D: number) => {
  const invSqrtD = 1 / Math.sqrt(D)
  switch (spec.attention) {
    case "linear":
      for (let j = 0; j < keys; j++) attn[j] = scores[j]! / n
      return
    case "exp":
      for (let j = 0; j < keys; j++) attn[j] = fastExp(scores[j]! * invSqrtD - spec.expShift) / n
      return
    case "softmax": {
      let max = -Infinity
      for (let j = 0; j < keys; j++) max = Math.max(max, scores[j]! * invSqrtD)
      let total = 0
      for (let j = 0; j < keys; j++) {
        const e = fastExp(scores[j]! * invSqrtD - max)
        attn[j] = e
        total += e
      }
      for (let j = 0; j < keys; j++) attn[j]! /= total
      return
    }
  }
}

/**
 * Logits of task t into z[zOffset..+C]; when `jacobian` is given, also ∂z/∂x_q (C×d, row-major) into it at jOffset,
 * by forward-mode differentiation along each input direction.
 */
export const forwardTask = (
  spec: ModelSpec,
  w: Weights,
  batch: TaskBatch,
  t: number,
  scratch: ForwardScratch,
  z: Float64Array,
  zOffset: number,
  jacobian?: Float64Array,
  jOffset = 0
): void => {
  const { d, C } = spec
  const { n } = batch
  const D = w.D
  const { u, scores, attn, h } = scratch
  const x = batch.x
  const xBase = t * n * d
  const lBase = t * n
  const qBase = t * d
  const keys = spec.attendToQuery ? n + 1 : n
  // u = W_KQ e_q; only the x-part of e_q is non-zero.
  for (let r = 0; r < D; r++) {
    let s = 0
    for (let k = 0; k < d; k++) s += w.kq[r * D + k]! * batch.query[qBase + k]!
    u[r] = s
  }
  for (let i = 0; i < n; i++) {
    let s = u[d + batch.labels[lBase + i]!]!
    for (let k = 0; k < d; k++) s += x[xBase + i * d + k]! * u[k]!
    scores[i] = s
  }
  if (spec.attendToQuery) {
    let s = 0
    for (let k = 0; k < d; k++) s += batch.query[qBase + k]! * u[k]!
    scores[n] = s
  }
  activate(spec, scores, attn, keys, n, D)
  h.fill(0)
  for (let i = 0; i < n; i++) {
    const a = attn[i]!
    for (let k = 0; k < d; k++) h[k]! += a * x[xBase + i * d + k]!
    h[d + batch.labels[lBase + i]!]! += a
  }
  if (spec.attendToQuery) for (let k = 0; k < d; k++) h[k]! += attn[n]! * batch.query[qBase + k]!
  for (let c = 0; c < C; c++) {
    let s = 0
    const row = (d + c) * D
    for (let r = 0; r < D; r++) s += w.pv[row + r]! * h[r]!
    z[zOffset + c] = s
  }
  if (jacobian === undefined) return

  // ∂z/∂x_q = W_PV[d:, :] ∂h/∂x_q. With G = W_KQ[:, :d] (∂u/∂x_q), a context key's score tangent is e_jᵀ G and its
  // weight's is c_j (e_jᵀ G − m), where c_j = 1/n (linear) or a_j/√D (exp, softmax) and m = Σ_k a_k ∂s_k (softmax;
  // else 0). So the context keys contribute (M G − v m) with M = Σ_j c_j e_j e_jᵀ and v = Σ_j c_j e_j: one pass over
  // the keys accumulates M, which is all that depends on them. The query key, when it attends to itself, adds
  // e_q c_q (∂s_q − m) and a_q ∂e_q, with ∂s_q = u[:d] + e_qᵀ G.
  const { moment, dh, meanScoreTangent: m, queryScoreTangent: gq } = scratch
  const invSqrtD = 1 / Math.sqrt(D)
  const coefficient = (a: number) => (spec.attention === "linear" ? 1 / n : a * invSqrtD)
  moment.fill(0)
  for (let i = 0; i < n; i++) {
    const c = coefficient(attn[i]!)
    const o = xBase + i * d
    const y = d + batch.labels[lBase + i]!
    for (let k = 0; k < d; k++) {
      const cx = c * x[o + k]!
      for (let l = 0; l < d; l++) moment[k * D + l]! += cx * x[o + l]!
      moment[k * D + y]! += cx
      moment[y * D + k]! += cx
    }
    moment[y * D + y]! += c
  }
  if (spec.attendToQuery) {
    for (let dir = 0; dir < d; dir++) {
      let s = u[dir]!
      for (let k = 0; k < d; k++) s += batch.query[qBase + k]! * w.kq[k * D + dir]!
      gq[dir] = s
    }
  }
  const aq = spec.attendToQuery ? attn[n]! : 0
  for (let dir = 0; dir < d; dir++) {
    let mean = 0
    if (spec.attention === "softmax") {
      // Σ_context a_j e_jᵀ G = (h − a_q e_q)ᵀ G, plus the query key's a_q ∂s_q.
      for (let r = 0; r < D; r++) mean += h[r]! * w.kq[r * D + dir]!
      if (spec.attendToQuery) {
        for (let k = 0; k < d; k++) mean -= aq * batch.query[qBase + k]! * w.kq[k * D + dir]!
        mean += aq * gq[dir]!
      }
    }
    m[dir] = mean
  }
  for (let r = 0; r < D; r++) {
    // v_r = Σ_j c_j e_j[r]: row sums of M's label columns (x rows) or its diagonal (label rows).
    let v = 0
    if (spec.attention === "softmax") {
      if (r < d) for (let c = 0; c < C; c++) v += moment[r * D + d + c]!
      else v = moment[r * D + r]!
    }
    for (let dir = 0; dir < d; dir++) {
      let s = 0
      for (let t2 = 0; t2 < D; t2++) s += moment[r * D + t2]! * w.kq[t2 * D + dir]!
      dh[r * d + dir] = s - v * m[dir]!
    }
  }
  if (spec.attendToQuery) {
    const cq = coefficient(aq)
    for (let k = 0; k < d; k++) {
      const qk = batch.query[qBase + k]!
      for (let dir = 0; dir < d; dir++) dh[k * d + dir]! += qk * cq * (gq[dir]! - m[dir]!)
      dh[k * d + k]! += aq
    }
  }
  for (let c = 0; c < C; c++) {
    const row = (d + c) * D
    for (let dir = 0; dir < d; dir++) {
      let s = 0
      for (let r = 0; r < D; r++) s += w.pv[row + r]! * dh[r * d + dir]!
      jacobian[jOffset + c * d + dir] = s
    }
  }
}

/** Logits [B, C] (and Jacobians [B, C, d] when asked) for every task of a batch. */
export const forwardBatch = (
  spec: ModelSpec,
  w: Weights,
  batch: TaskBatch,
  withJacobian: boolean
): { readonly logits: Float64Array; readonly jacobians: Float64Array | undefined } => {
  const { C, d } = spec
  const scratch = new ForwardScratch(w.D, batch.n + 1)
  const logits = new Float64Array(batch.size * C)
  const jacobians = withJacobian ? new Float64Array(batch.size * C * d) : undefined
  for (let t = 0; t < batch.size; t++) forwardTask(spec, w, batch, t, scratch, logits, t * C, jacobians, t * C * d)
  return { logits, jacobians }
}
