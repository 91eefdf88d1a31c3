/**
 * The fused engine's hot loop, generated once per model shape: the same loss and gradient as FusedGradient (which
 * stays the readable reference it is tested against), with every loop over the d + C token dimensions unrolled so
 * that the query vector, u, h, and both gradients live in local variables instead of arrays. Only the loops over
 * tasks and context points remain.
 */
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
  B: number,
  n: number,
  gkq: Float64Array,
  gpv: Float64Array,
  scores: Float64Array,
  uy: Float64Array,
  hy: Float64Array,
  ghy: Float64Array,
  gas: Float64Array
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
  emit("for (let t = 0; t < B; t++) {")
  emit(`  const xb = t * n * ${d}; const lb = t * n; const qb = t * ${d};`)
  for (const k of X) emit(`  const q${k} = query[qb + ${k}];`)
  // u = W_KQ e_q (only x columns of e_q are non-zero): the x part in locals, the label part in uy.
  for (const r of R) {
    const value = sum(X.map((k) => `kq[${r * D + k}] * q${k}`))
    emit(r < d ? `  const u${r} = ${value};` : `  uy[${r - d}] = ${value};`)
  }
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = xb + i * ${d};`)
  emit(`    scores[i] = ${sum(X.map((k) => `x[o + ${k}] * u${k}`))} + uy[labels[lb + i]];`)
  emit("  }")
  if (attendToQuery) emit(`  scores[n] = ${sum(X.map((k) => `q${k} * u${k}`))};`)
  // Attention weights, in place over the scores.
  if (attention === "linear") emit("  for (let j = 0; j < keys; j++) scores[j] = scores[j] / n;")
  if (attention === "exp") emit(`  for (let j = 0; j < keys; j++) scores[j] = Math.exp(scores[j] * ${invSqrtD} - ${spec.expShift}) / n;`)
  if (attention === "softmax") {
    emit("  let mx = -Infinity;")
    emit(`  for (let j = 0; j < keys; j++) { const v = scores[j] * ${invSqrtD}; if (v > mx) mx = v; }`)
    emit("  let tot = 0;")
    emit(`  for (let j = 0; j < keys; j++) { const e = Math.exp(scores[j] * ${invSqrtD} - mx); scores[j] = e; tot += e; }`)
    emit("  const inv = 1 / tot;")
    emit("  for (let j = 0; j < keys; j++) scores[j] = scores[j] * inv;")
  }
  // h = Σ a_j e_j.
  for (const k of X) emit(`  let h${k} = 0;`)
  emit("  hy.fill(0);")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const a = scores[i]; const o = xb + i * ${d};`)
  for (const k of X) emit(`    h${k} += a * x[o + ${k}];`)
  emit("    hy[labels[lb + i]] += a;")
  emit("  }")
  if (attendToQuery) for (const k of X) emit(`  h${k} += scores[n] * q${k};`)
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
  // g_a_j = e_jᵀ g_h, one per key.
  emit("  let dot = 0;")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = xb + i * ${d};`)
  emit(`    const ga = ${sum(X.map((k) => `x[o + ${k}] * gh${k}`))} + ghy[labels[lb + i]];`)
  if (attention === "softmax") emit("    dot += scores[i] * ga;")
  emit("    gas[i] = ga;")
  emit("  }")
  if (attendToQuery) {
    emit(`  const gaq = ${sum(X.map((k) => `q${k} * gh${k}`))};`)
    if (attention === "softmax") emit("  dot += scores[n] * gaq;")
  }
  const gScore = (a: string, ga: string) =>
    attention === "linear" ? `${ga} / n` : attention === "exp" ? `${ga} * ${a} * ${invSqrtD}` : `${a} * (${ga} - dot) * ${invSqrtD}`
  // g_u = Σ_j g_score_j e_j, then ∇W_KQ += g_u e_qᵀ.
  for (const k of X) emit(`  let gu${k} = 0;`)
  for (const c of Y) emit(`  let guy${c} = 0;`)
  emit("  ghy.fill(0);")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const g = ${gScore("scores[i]", "gas[i]")}; const o = xb + i * ${d};`)
  for (const k of X) emit(`    gu${k} += g * x[o + ${k}];`)
  emit("    ghy[labels[lb + i]] += g;")
  emit("  }")
  if (attendToQuery) {
    emit(`  const gq = ${gScore("scores[n]", "gaq")};`)
    for (const k of X) emit(`  gu${k} += gq * q${k};`)
  }
  for (const c of Y) emit(`  guy${c} = ghy[${c}];`)
  const gu = (r: number) => (r < d ? `gu${r}` : `guy${r - d}`)
  for (const r of R) for (const k of X) emit(`  gkq_${r}_${k} += ${gu(r)} * q${k};`)
  emit("}")
  emit("gpv.fill(0); gkq.fill(0);")
  for (const c of Y) for (const r of R) emit(`gpv[${(d + c) * D + r}] = gpv_${c}_${r};`)
  for (const r of R) for (const k of X) emit(`gkq[${r * D + k}] = gkq_${r}_${k};`)
  emit("return totalLoss / B;")
  return lines.join("\n")
}

const compiled = new Map<string, Kernel>()

const compile = (spec: ModelSpec): Kernel => {
  const source = kernelSource(spec)
  let kernel = compiled.get(source)
  if (kernel === undefined) {
    kernel = new Function(
      "kq, pv, x, labels, query, queryLabel, B, n, gkq, gpv, scores, uy, hy, ghy, gas",
      source
    ) as Kernel
    compiled.set(source, kernel)
  }
  return kernel
}

/** A compiled loss-and-gradient function for one model; its scratch grows with the context length it sees. */
export const makeFusedKernel = (spec: ModelSpec) => {
  const kernel = compile(spec)
  let scores = new Float64Array(0)
  let perPoint = new Float64Array(0)
  const uy = new Float64Array(spec.C)
  const hy = new Float64Array(spec.C)
  const ghy = new Float64Array(spec.C)
  return (w: Weights, batch: TaskBatch, grads: Gradients): number => {
    if (scores.length < batch.n + 1) {
      scores = new Float64Array(batch.n + 1)
      perPoint = new Float64Array(batch.n + 1)
    }
    return kernel(w.kq, w.pv, batch.x, batch.labels, batch.query, batch.queryLabel, batch.size, batch.n, grads.kq, grads.pv, scores, uy, hy, ghy, perPoint)
  }
}
