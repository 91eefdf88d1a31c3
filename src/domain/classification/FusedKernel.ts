/**
 * The fused engine's hot loop, generated once per model shape: the same loss and gradient as FusedGradient (which
 * stays the readable reference it is tested against), with every loop over the d + C token dimensions unrolled so
 * that the query vector, u, h, and both gradients live in local variables instead of arrays. Only the loops over
 * tasks and context points remain. The attention weights' exps are FastExp's (within 2 ulp of Math.exp).
 */
import { fastExpSource, fastExpTables } from "../FastExp.js"
import type { Gradients } from "./FusedGradient.js"
import type { ModelSpec, Weights } from "./Model.js"
import type { TaskBatch } from "./Task.js"

type Kernel = (
  kq: Float64Array,
  pv: Float64Array,
  x: Float64Array,
  labels: Int32Array,
  query: Float64Array,
  queryLabel: Int32Array,
  count: number,
  B: number,
  n: number,
  gkq: Float64Array,
  gpv: Float64Array,
  scores: Float64Array,
  uy: Float64Array,
  hy: Float64Array,
  ghy: Float64Array
) => number

const range = (k: number) => Array.from({ length: k }, (_, i) => i)
const sum = (terms: ReadonlyArray<string>) => (terms.length === 0 ? "0" : terms.join(" + "))

/** Source of the kernel for one (d, C, attention, attendToQuery). */
export const kernelSource = (spec: ModelSpec): string => {
  const { d, C, attention, attendToQuery } = spec
  const D = d + C
  const X = range(d)
  const Y = range(C)
  const R = range(D)
  const invSqrtD = 1 / Math.sqrt(D)
  const lines: Array<string> = []
  const emit = (line: string) => lines.push(line)
  // Gradient accumulators across the batch: the label rows of W_PV and the x columns of W_KQ.
  for (const c of Y) for (const r of R) emit(`let gpv_${c}_${r} = 0;`)
  for (const r of R) for (const k of X) emit(`let gkq_${r}_${k} = 0;`)
  emit("let totalLoss = 0;")
  emit(`const keys = ${attendToQuery ? "n + 1" : "n"};`)
  emit("for (let t = 0; t < count; t++) {")
  emit(`  const xb = t * n * ${d}; const lb = t * n; const qb = t * ${d};`)
  for (const k of X) emit(`  const q${k} = query[qb + ${k}];`)
  // u = W_KQ e_q (only x columns of e_q are non-zero): the x part in locals, the label part in uy.
  for (const r of R) {
    const value = sum(X.map((k) => `kq[${r * D + k}] * q${k}`))
    emit(r < d ? `  const u${r} = ${value};` : `  uy[${r - d}] = ${value};`)
  }
  // Forward in as few passes over the keys as the activation allows: scores, weights and h = Σ a_j e_j together
  // (softmax needs its maximum first, so one pass more; its weights stay unnormalised until h is scaled by 1/Z).
  const score = (xs: (k: number) => string, label: string | null) =>
    `${sum(X.map((k) => `${xs(k)} * u${k}`))}${label === null ? "" : ` + uy[${label}]`}`
  const weight = (s: string) =>
    attention === "linear" ? `(${s}) / n` : attention === "exp" ? `fastExp((${s}) * ${invSqrtD} - ${spec.expShift}) / n` : `fastExp((${s}) - mx)`
  for (const k of X) emit(`  let h${k} = 0;`)
  emit("  hy.fill(0);")
  if (attention === "softmax") {
    emit("  let mx = -Infinity;")
    emit("  for (let i = 0; i < n; i++) {")
    emit(`    const o = xb + i * ${d};`)
    emit(`    const s = (${score((k) => `x[o + ${k}]`, "labels[lb + i]")}) * ${invSqrtD};`)
    emit("    scores[i] = s; if (s > mx) mx = s;")
    emit("  }")
    if (attendToQuery) emit(`  { const s = (${score((k) => `q${k}`, null)}) * ${invSqrtD}; scores[n] = s; if (s > mx) mx = s; }`)
  }
  emit("  let tot = 0;")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = xb + i * ${d}; const label = labels[lb + i];`)
  emit(`    const a = ${weight(attention === "softmax" ? "scores[i]" : score((k) => `x[o + ${k}]`, "label"))};`)
  emit("    scores[i] = a; tot += a;")
  for (const k of X) emit(`    h${k} += a * x[o + ${k}];`)
  emit("    hy[label] += a;")
  emit("  }")
  if (attendToQuery) {
    emit(`  { const a = ${weight(attention === "softmax" ? "scores[n]" : score((k) => `q${k}`, null))}; scores[n] = a; tot += a;`)
    for (const k of X) emit(`    h${k} += a * q${k};`)
    emit("  }")
  }
  if (attention === "softmax") {
    emit("  const inv = 1 / tot;")
    for (const k of X) emit(`  h${k} *= inv;`)
    for (const c of Y) emit(`  hy[${c}] *= inv;`)
  }
  for (const c of Y) emit(`  const hy${c} = hy[${c}];`)
  const h = (r: number) => (r < d ? `h${r}` : `hy${r - d}`)
  // Logits, cross-entropy and g_z = (p − onehot)/B.
  for (const c of Y) emit(`  const z${c} = ${sum(R.map((r) => `pv[${(d + c) * D + r}] * ${h(r)}`))};`)
  emit(`  let zm = z0;`)
  for (const c of Y.slice(1)) emit(`  if (z${c} > zm) zm = z${c};`)
  emit(`  const lse = zm + Math.log(${sum(Y.map((c) => `Math.exp(z${c} - zm)`))});`)
  emit("  const target = queryLabel[t];")
  emit(`  totalLoss += lse - (${Y.map((c) => `target === ${c} ? z${c} : `).join("")}0);`)
  for (const c of Y) emit(`  const gz${c} = (Math.exp(z${c} - lse) - (target === ${c} ? 1 : 0)) / B;`)
  for (const c of Y) for (const r of R) emit(`  gpv_${c}_${r} += gz${c} * ${h(r)};`)
  // g_h = W_PV[d:, :]ᵀ g_z.
  for (const r of R) {
    const value = sum(Y.map((c) => `pv[${(d + c) * D + r}] * gz${c}`))
    emit(r < d ? `  const gh${r} = ${value};` : `  ghy[${r - d}] = ${value};`)
  }
  // Backward in one pass over the keys: g_a_j = e_jᵀ g_h, g_score_j from the activation, g_u += g_score_j e_j.
  // For softmax, Σ_j a_j g_a_j = hᵀ g_h is known before the pass.
  if (attention === "softmax") emit(`  const dot = ${sum([...X.map((k) => `h${k} * gh${k}`), ...Y.map((c) => `hy${c} * ghy[${c}]`)])};`)
  const gScore = (a: string, ga: string) =>
    attention === "linear" ? `${ga} / n` : attention === "exp" ? `${ga} * ${a} * ${invSqrtD}` : `${a} * inv * (${ga} - dot) * ${invSqrtD}`
  for (const k of X) emit(`  let gu${k} = 0;`)
  for (const c of Y) emit(`  let guy${c} = 0;`)
  emit("  hy.fill(0);")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = xb + i * ${d}; const label = labels[lb + i];`)
  emit(`    const ga = ${sum(X.map((k) => `x[o + ${k}] * gh${k}`))} + ghy[label];`)
  emit(`    const g = ${gScore("scores[i]", "ga")};`)
  for (const k of X) emit(`    gu${k} += g * x[o + ${k}];`)
  emit("    hy[label] += g;")
  emit("  }")
  if (attendToQuery) {
    emit(`  { const ga = ${sum(X.map((k) => `q${k} * gh${k}`))}; const g = ${gScore("scores[n]", "ga")};`)
    for (const k of X) emit(`    gu${k} += g * q${k};`)
    emit("  }")
  }
  for (const c of Y) emit(`  guy${c} = hy[${c}];`)
  const gu = (r: number) => (r < d ? `gu${r}` : `guy${r - d}`)
  for (const r of R) for (const k of X) emit(`  gkq_${r}_${k} += ${gu(r)} * q${k};`)
  emit("}")
  emit("gpv.fill(0); gkq.fill(0);")
  for (const c of Y) for (const r of R) emit(`gpv[${(d + c) * D + r}] = gpv_${c}_${r};`)
  for (const r of R) for (const k of X) emit(`gkq[${r * D + k}] = gkq_${r}_${k};`)
  emit("return totalLoss / B;")
  emit(fastExpSource)
  return lines.join("\n")
}

const compiled = new Map<string, Kernel>()

const compile = (spec: ModelSpec): Kernel => {
  const source = kernelSource(spec)
  let kernel = compiled.get(source)
  if (kernel === undefined) {
    kernel = new Function(
      "TWO_TO_J_64, TWO_TO_M",
      `return function (kq, pv, x, labels, query, queryLabel, count, B, n, gkq, gpv, scores, uy, hy, ghy) {\n${source}\n}`
    )(fastExpTables.TWO_TO_J_64, fastExpTables.TWO_TO_M) as Kernel
    compiled.set(source, kernel)
  }
  return kernel
}

/**
 * A compiled loss-and-gradient function for one model; its scratch grows with the context length it sees. With
 * `batchSize` larger than the batch given, the batch is one part of a larger batch: the loss and gradient are its
 * share of that batch's mean (its sums divided by `batchSize`).
 */
export const makeFusedKernel = (spec: ModelSpec) => {
  const kernel = compile(spec)
  let scores = new Float64Array(0)
  const uy = new Float64Array(spec.C)
  const hy = new Float64Array(spec.C)
  const ghy = new Float64Array(spec.C)
  return (w: Weights, batch: TaskBatch, grads: Gradients, batchSize = batch.size): number => {
    if (scores.length < batch.n + 1) scores = new Float64Array(batch.n + 1)
    return kernel(w.kq, w.pv, batch.x, batch.labels, batch.query, batch.queryLabel, batch.size, batchSize, batch.n, grads.kq, grads.pv, scores, uy, hy, ghy)
  }
}
