/**
 * The fused engine: mean cross-entropy of a batch and its analytic gradient with respect to W_KQ and W_PV, in one
 * pass over the tasks with no allocation per task. Backward pass for one task, with p = softmax(z):
 *   g_z = (p − onehot(c_q)) / B,        ∇W_PV[d + c, :] += g_z[c] hᵀ,        g_h = W_PV[d:, :]ᵀ g_z
 *   g_a_j = e_jᵀ g_h,                  g_score from the activation (linear: /n; exp: ·a_j/√D; softmax: Jacobian/√D)
 *   g_u = Σ_j g_score_j e_j,           ∇W_KQ += g_u e_qᵀ
 */
import { ForwardScratch, forwardTask, type ModelSpec, type Weights } from "./Model.js"
import type { TaskBatch } from "./Task.js"

export interface Gradients {
  readonly kq: Float64Array
  readonly pv: Float64Array
}

export class FusedScratch {
  readonly forward: ForwardScratch
  readonly z: Float64Array
  readonly gz: Float64Array
  readonly gh: Float64Array
  readonly gScores: Float64Array
  readonly gu: Float64Array
  constructor(
    readonly D: number,
    readonly C: number,
    readonly keys: number
  ) {
    this.forward = new ForwardScratch(D, keys)
    this.z = new Float64Array(C)
    this.gz = new Float64Array(C)
    this.gh = new Float64Array(D)
    this.gScores = new Float64Array(keys)
    this.gu = new Float64Array(D)
  }
}

/** Mean cross-entropy over the batch; writes the gradient into `grads` (overwritten, not accumulated). */
export const lossAndGradients = (
  spec: ModelSpec,
  w: Weights,
  batch: TaskBatch,
  grads: Gradients,
  scratch: FusedScratch = new FusedScratch(w.D, spec.C, batch.n + 1)
): number => {
  const { d, C } = spec
  const D = w.D
  const { n, size: B } = batch
  const keys = spec.attendToQuery ? n + 1 : n
  const invSqrtD = 1 / Math.sqrt(D)
  const { z, gz, gh, gScores, gu } = scratch
  const { attn, h } = scratch.forward
  grads.kq.fill(0)
  grads.pv.fill(0)
  let totalLoss = 0
  for (let t = 0; t < B; t++) {
    forwardTask(spec, w, batch, t, scratch.forward, z, 0)
    const target = batch.queryLabel[t]!
    let max = -Infinity
    for (let c = 0; c < C; c++) max = Math.max(max, z[c]!)
    let sum = 0
    for (let c = 0; c < C; c++) sum += Math.exp(z[c]! - max)
    const logSum = max + Math.log(sum)
    totalLoss += logSum - z[target]!
    for (let c = 0; c < C; c++) gz[c] = (Math.exp(z[c]! - logSum) - (c === target ? 1 : 0)) / B

    gh.fill(0)
    for (let c = 0; c < C; c++) {
      const g = gz[c]!
      const row = (d + c) * D
      for (let r = 0; r < D; r++) {
        grads.pv[row + r]! += g * h[r]!
        gh[r]! += w.pv[row + r]! * g
      }
    }
    const xBase = t * n * d
    const lBase = t * n
    const qBase = t * d
    for (let i = 0; i < n; i++) {
      let s = gh[d + batch.labels[lBase + i]!]!
      for (let k = 0; k < d; k++) s += batch.x[xBase + i * d + k]! * gh[k]!
      gScores[i] = s
    }
    if (spec.attendToQuery) {
      let s = 0
      for (let k = 0; k < d; k++) s += batch.query[qBase + k]! * gh[k]!
      gScores[n] = s
    }
    switch (spec.attention) {
      case "linear":
        for (let j = 0; j < keys; j++) gScores[j]! /= n
        break
      case "exp":
        for (let j = 0; j < keys; j++) gScores[j] = gScores[j]! * attn[j]! * invSqrtD
        break
      case "softmax": {
        let mean = 0
        for (let j = 0; j < keys; j++) mean += attn[j]! * gScores[j]!
        for (let j = 0; j < keys; j++) gScores[j] = attn[j]! * (gScores[j]! - mean) * invSqrtD
        break
      }
    }
    gu.fill(0)
    for (let i = 0; i < n; i++) {
      const g = gScores[i]!
      for (let k = 0; k < d; k++) gu[k]! += g * batch.x[xBase + i * d + k]!
      gu[d + batch.labels[lBase + i]!]! += g
    }
    if (spec.attendToQuery) for (let k = 0; k < d; k++) gu[k]! += gScores[n]! * batch.query[qBase + k]!
    for (let r = 0; r < D; r++) {
      const g = gu[r]!
      for (let k = 0; k < d; k++) grads.kq[r * D + k]! += g * batch.query[qBase + k]!
    }
  }
  return totalLoss / B
}
