/**
 * The fused K-layer engine's hot loop, generated once per model shape: the arithmetic of DeepGradient (which stays
 * the readable reference it is tested against) with every loop over the D = d + 1 token dimensions unrolled, so that
 * a token, a row of ∂L/∂Z and the running sums live in local variables. Only the loops over tasks, layers, context
 * points and tokens remain, so the source does not grow with the depth. The weights' offsets per layer come in as a
 * table (a recurrent model's layers share one offset).
 *
 * Tasks are computed one at a time, and each task's gradient is added, as it is computed, to one of two running sums:
 * of the even and of the odd tasks of the call; the gradient is their sum. The WebAssembly SIMD kernel
 * (assembly/regression.ts, SimdKernel) computes two tasks at once with exactly these operations in this order, so
 * the two agree to the last bit: a change to the order of a sum here must be made there too (SimdKernel.test.ts
 * compares the two bit for bit).
 *
 * Differences from the reference are at the level of rounding (1/n is multiplied instead of divided, sums run in
 * another order), tested to 1e-12 relative.
 */
import type { RegressionKernel } from "./DeepGradient.js"
import { layerOffset, parameterCount, type RegressionSpec } from "./Model.js"
import type { RegressionBatch } from "./Task.js"

type Compiled = (
  params: Float64Array,
  offsets: Int32Array,
  x: Float64Array,
  y: Float64Array,
  query: Float64Array,
  target: Float64Array,
  count: number,
  B: number,
  n: number,
  grads: Float64Array,
  Z: Float64Array,
  KY: Float64Array,
  VY: Float64Array,
  W: Float64Array,
  GS: Float64Array,
  LV: Float64Array,
  GW: Float64Array,
  G0: Float64Array,
  G1: Float64Array,
  GV: Float64Array,
  R: Float64Array,
  even: Float64Array,
  odd: Float64Array
) => number

const range = (k: number) => Array.from({ length: k }, (_, i) => i)
const sum = (terms: ReadonlyArray<string>) => (terms.length === 0 ? "0" : terms.join(" + "))

/**
 * Source of the kernel for one (d, depth, activation): a factory of the function that takes the whole batch. Each phase
 * of a layer is a function of its own, so that every one stays small enough for the optimising compiler.
 */
export const deepKernelSource = (spec: Pick<RegressionSpec, "d" | "depth" | "activation">): string => {
  const { d, depth: K, activation } = spec
  const D = d + 1
  const DD = D * D
  const C = range(D)
  const X = range(d)
  const lines: Array<string> = []
  const emit = (line: string) => lines.push(line)
  const softmax = activation === "softmax"
  /** The weight of a score (non-softmax activations). */
  const weight = (s: string) =>
    activation === "linear" ? `${s} * invN` : activation === "relu" ? `(${s} > 0 ? ${s} * invN : 0)` : `Math.exp(${s}) * invN`
  /** ∂L/∂S from ∂L/∂W and W (non-softmax activations). */
  const scoreGrad = (gw: string, w: string) =>
    activation === "linear" ? `${gw} * invN` : activation === "relu" ? `(${w} > 0 ? ${gw} * invN : 0)` : `${gw} * ${w}`

  // Forward through a layer before the last: Aᵀc_i and P c_i of every key, then every token's update.
  emit("function forward(params, a, Z, z, zn, KY, VY, kb, W, wb, n, invN) {")
  emit(`  const p = a + ${DD}; const N = n + 1;`)
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = z + i * ${D}; const ko = kb + i * ${D};`)
  for (const c of C) emit(`    const c${c} = Z[o + ${c}];`)
  for (const r of C) emit(`    KY[ko + ${r}] = ${sum(C.map((c) => `params[a + ${c * D + r}] * c${c}`))};`)
  for (const r of C) emit(`    VY[ko + ${r}] = ${sum(C.map((c) => `params[p + ${r * D + c}] * c${c}`))};`)
  emit("  }")
  emit("  for (let j = 0; j < N; j++) {")
  emit(`    const o = z + j * ${D}; const wo = wb + j * n;`)
  for (const c of C) emit(`    const e${c} = Z[o + ${c}];`)
  if (softmax) emit("    let mx = -Infinity;")
  emit("    for (let i = 0; i < n; i++) {")
  emit(`      const ko = kb + i * ${D};`)
  emit(`      const s = ${sum(C.map((c) => `KY[ko + ${c}] * e${c}`))};`)
  emit(softmax ? "      W[wo + i] = s; if (s > mx) mx = s;" : `      W[wo + i] = ${weight("s")};`)
  emit("    }")
  if (softmax) {
    emit("    let tot = 0;")
    emit("    for (let i = 0; i < n; i++) { const w = Math.exp(W[wo + i] - mx); W[wo + i] = w; tot += w; }")
    emit("    const inv = 1 / tot;")
    emit("    for (let i = 0; i < n; i++) W[wo + i] *= inv;")
  }
  emit("  }")
  // Z_{l+1, j} = Z_j + Σ_i W_ji V_i.
  emit("  for (let j = 0; j < N; j++) {")
  emit(`    const o = z + j * ${D}; const wo = wb + j * n; const on = zn + j * ${D};`)
  for (const c of C) emit(`    let u${c} = Z[o + ${c}];`)
  emit("    for (let i = 0; i < n; i++) {")
  emit(`      const ko = kb + i * ${D}; const w = W[wo + i];`)
  for (const c of C) emit(`      u${c} += w * VY[ko + ${c}];`)
  emit("    }")
  for (const c of C) emit(`    Z[on + ${c}] = u${c};`)
  emit("  }")
  emit("}")

  // The last layer at the query, the error, and its backward pass (∂L/∂Z_{K−1} into G when withInput).
  emit("function last(params, aL, Z, zL, W, wl, LV, GW, G, GT, target, gScale, n, invN, withInput) {")
  emit(`  const pL = aL + ${DD + d * D};`)
  for (const c of C) emit(`  const q${c} = Z[zL + n * ${D} + ${c}];`)
  for (const r of C) emit(`  const az${r} = ${sum(C.map((c) => `params[aL + ${r * D + c}] * q${c}`))};`)
  for (const c of C) emit(`  const pr${c} = params[pL + ${c}];`)
  if (softmax) emit("  let mx = -Infinity;")
  else emit("  let upd = 0;")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = zL + i * ${D};`)
  for (const c of C) emit(`    const c${c} = Z[o + ${c}];`)
  emit(`    const s = ${sum(C.map((c) => `c${c} * az${c}`))};`)
  emit(`    const v = ${sum(C.map((c) => `pr${c} * c${c}`))};`)
  emit("    LV[i] = v;")
  if (softmax) emit("    W[wl + i] = s; if (s > mx) mx = s;")
  else emit(`    const w = ${weight("s")}; W[wl + i] = w; upd += w * v;`)
  emit("  }")
  if (softmax) {
    emit("  let tot = 0;")
    emit("  for (let i = 0; i < n; i++) { const w = Math.exp(W[wl + i] - mx); W[wl + i] = w; tot += w; }")
    emit("  const inv = 1 / tot; let upd = 0;")
    emit("  for (let i = 0; i < n; i++) { const w = W[wl + i] * inv; W[wl + i] = w; upd += w * LV[i]; }")
  }
  emit(`  const error = -(q${d} + upd) - target;`)
  emit("  const gOut = -error * gScale;")
  // For softmax Σ_i W_i ∂L/∂W_i = gOut · upd.
  for (const c of C) emit(`  let r${c} = 0; let pu${c} = 0;`)
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const o = zL + i * ${D}; const w = W[wl + i]; const gw = gOut * LV[i];`)
  emit(`    const gs = ${softmax ? "w * (gw - gOut * upd)" : scoreGrad("gw", "w")}; GW[i] = gs;`)
  for (const c of C) emit(`    { const cc = Z[o + ${c}]; r${c} += gs * cc; pu${c} += w * cc; }`)
  emit("  }")
  for (const c of C) emit(`  GT[pL + ${c}] += gOut * pu${c};`)
  for (const r of C) for (const c of C) emit(`  GT[aL + ${r * D + c}] += r${r} * q${c};`)
  emit("  if (withInput) {")
  for (const c of C) emit(`    G[n * ${D} + ${c}] = ${sum(C.map((r) => `params[aL + ${r * D + c}] * r${r}`))}${c === d ? " + gOut" : ""};`)
  emit("    for (let i = 0; i < n; i++) {")
  emit(`      const gs = GW[i]; const vv = W[wl + i] * gOut; const o = i * ${D};`)
  for (const c of C) emit(`      G[o + ${c}] = gs * az${c} + vv * pr${c};`)
  emit("    }")
  emit("  }")
  emit("  return error;")
  emit("}")

  // Backward through a layer before the last. First row by row: ∂L/∂S into GS and (withInput) the residual and query
  // side of ∂L/∂Z_l; then key by key: ∂L/∂V_i = Σ_j W_ji G_j and R_i = Σ_j ∂L/∂S_ji Z_j.
  const rows = (withInput: boolean) => {
    emit(`function rows${withInput ? "In" : ""}(Z, z, G, Gn, KY, VY, kb, W, wb, GS, n, invN) {`)
    emit("  const N = n + 1;")
    emit("  for (let j = 0; j < N; j++) {")
    emit(`    const go = j * ${D}; const wo = wb + j * n;`)
    for (const c of C) emit(`    const g${c} = G[go + ${c}];`)
    if (softmax) emit("    let dot = 0;")
    emit("    for (let i = 0; i < n; i++) {")
    emit(`      const ko = kb + i * ${D};`)
    emit(`      const gw = ${sum(C.map((c) => `g${c} * VY[ko + ${c}]`))};`)
    if (softmax) emit("      GS[wo + i] = gw; dot += W[wo + i] * gw;")
    else emit(`      GS[wo + i] = ${scoreGrad("gw", "W[wo + i]")};`)
    emit("    }")
    if (softmax) emit("    for (let i = 0; i < n; i++) GS[wo + i] = W[wo + i] * (GS[wo + i] - dot);")
    if (withInput) {
      for (const c of C) emit(`    let h${c} = g${c};`)
      emit("    for (let i = 0; i < n; i++) {")
      emit(`      const ko = kb + i * ${D}; const gs = GS[wo + i];`)
      for (const c of C) emit(`      h${c} += gs * KY[ko + ${c}];`)
      emit("    }")
      for (const c of C) emit(`    Gn[go + ${c}] = h${c};`)
    }
    emit("  }")
    emit("}")
  }
  rows(true)
  rows(false)
  emit("function keys(Z, z, G, W, wb, GS, GV, R, n) {")
  emit("  const N = n + 1;")
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const io = i * ${D};`)
  for (const c of C) emit(`    let v${c} = 0;`)
  emit("    for (let j = 0; j < N; j++) {")
  emit(`      const go = j * ${D}; const w = W[wb + j * n + i];`)
  for (const c of C) emit(`      v${c} += w * G[go + ${c}];`)
  emit("    }")
  for (const c of C) emit(`    GV[io + ${c}] = v${c};`)
  for (const c of C) emit(`    let r${c} = 0;`)
  emit("    for (let j = 0; j < N; j++) {")
  emit(`      const o = z + j * ${D}; const gs = GS[wb + j * n + i];`)
  for (const c of C) emit(`      r${c} += gs * Z[o + ${c}];`)
  emit("    }")
  for (const c of C) emit(`    R[io + ${c}] = r${c};`)
  emit("  }")
  emit("}")

  // ∂L/∂A += Σ_i c_i R_iᵀ and ∂L/∂P += Σ_i ∂L/∂V_i c_iᵀ for a layer before the last, into the task's gradient GT: each
  // entry a running sum that starts from GT's value and adds i = 0, 1, … in order.
  emit("function weightGradients(GT, a, Z, z, GV, R, n) {")
  emit(`  const p = a + ${DD};`)
  for (const r of C) {
    for (const [out, left, right] of [["a", "Z[o + " + r + "]", "R[io + "], ["p", "GV[io + " + r + "]", "Z[o + "]] as const) {
      emit("  {")
      for (const c of C) emit(`    let s${c} = GT[${out} + ${r * D + c}];`)
      emit("    for (let i = 0; i < n; i++) {")
      emit(`      const o = z + i * ${D}; const io = i * ${D}; const f = ${left};`)
      for (const c of C) emit(`      s${c} += f * ${right}${c}];`)
      emit("    }")
      for (const c of C) emit(`    GT[${out} + ${r * D + c}] = s${c};`)
      emit("  }")
    }
  }
  emit("}")

  // Key and value sides of ∂L/∂Z_l: ∂L/∂c_i += A R_i + Pᵀ ∂L/∂V_i, one running sum per entry from Gn's value over A's
  // terms, then P's.
  emit("function keySide(params, a, Gn, GV, R, n) {")
  emit(`  const p = a + ${DD};`)
  emit("  for (let i = 0; i < n; i++) {")
  emit(`    const io = i * ${D};`)
  for (const c of C) emit(`    const r${c} = R[io + ${c}]; const v${c} = GV[io + ${c}];`)
  for (const r of C) {
    emit(`    Gn[io + ${r}] = Gn[io + ${r}] + ${C.map((c) => `params[a + ${r * D + c}] * r${c}`).join(" + ")} + ${C.map((c) => `params[p + ${c * D + r}] * v${c}`).join(" + ")};`)
  }
  emit("  }")
  emit("}")

  emit("return function (params, offsets, x, y, query, target, count, B, n, grads, Z, KY, VY, W, GS, LV, GW, G0, G1, GV, R, even, odd) {")
  emit(`  const N = n + 1; const ND = N * ${D}; const nD = n * ${D}; const Nn = N * n; const invN = 1 / n; const gScale = 1 / B;`)
  emit("  const P = even.length;")
  emit("  even.fill(0); odd.fill(0);")
  emit("  let lossSum = 0;")
  // Task by task: its tokens at every layer; its gradient added, as it is computed, to the even or the odd tasks' sum.
  emit("  for (let t = 0; t < count; t++) {")
  emit("    const GT = (t & 1) === 0 ? even : odd;")
  emit("    for (let i = 0; i < n; i++) {")
  emit(`      const src = (t * n + i) * ${d}; const o = i * ${D};`)
  for (const k of X) emit(`      Z[o + ${k}] = x[src + ${k}];`)
  emit(`      Z[o + ${d}] = y[t * n + i];`)
  emit("    }")
  for (const k of X) emit(`    Z[n * ${D} + ${k}] = query[t * ${d} + ${k}];`)
  emit(`    Z[n * ${D} + ${d}] = 0;`)
  emit(`    for (let l = 0; l < ${K - 1}; l++) forward(params, offsets[l], Z, l * ND, (l + 1) * ND, KY, VY, l * nD, W, l * Nn, n, invN);`)
  emit(`    const error = last(params, offsets[${K - 1}], Z, ${K - 1} * ND, W, ${K - 1} * Nn, LV, GW, G0, GT, target[t], gScale, n, invN, ${K > 1});`)
  emit("    lossSum += error * error;")
  emit("    let G = G0; let Gn = G1;")
  emit(`    for (let l = ${K - 2}; l >= 0; l--) {`)
  emit("      const a = offsets[l]; const z = l * ND; const kb = l * nD; const wb = l * Nn;")
  emit("      if (l > 0) rowsIn(Z, z, G, Gn, KY, VY, kb, W, wb, GS, n, invN);")
  emit("      else rows(Z, z, G, Gn, KY, VY, kb, W, wb, GS, n, invN);")
  emit("      keys(Z, z, G, W, wb, GS, GV, R, n);")
  emit("      weightGradients(GT, a, Z, z, GV, R, n);")
  emit("      if (l === 0) break;")
  emit("      keySide(params, a, Gn, GV, R, n);")
  emit("      const swap = G; G = Gn; Gn = swap;")
  emit("    }")
  emit("  }")
  emit("  for (let k = 0; k < P; k++) grads[k] = even[k] + odd[k];")
  emit("  return lossSum / (2 * B);")
  emit("};")
  return lines.join("\n")
}

const compiled = new Map<string, Compiled>()

const compile = (spec: RegressionSpec): Compiled => {
  const source = deepKernelSource(spec)
  let kernel = compiled.get(source)
  if (kernel === undefined) {
    kernel = new Function(source)() as Compiled
    compiled.set(source, kernel)
  }
  return kernel
}

/**
 * A compiled K-layer loss-and-gradient function for tasks with n context points (regression/DeepGradient has the
 * maths). With `batchSize` larger than the batch given, the batch is one part of a larger batch: the loss and gradient
 * are its share of that batch's mean. `grads` is overwritten.
 */
export const makeDeepKernel = (spec: RegressionSpec, n: number) => {
  if ((spec.embedding ?? null) !== null) throw new Error("the fused K-layer engine has no embedding; train embeddings on TensorFlow.js")
  const kernel = compile(spec)
  const { depth: K } = spec
  const D = spec.d + 1
  const N = n + 1
  const offsets = Int32Array.from({ length: K }, (_, l) => layerOffset(spec, l))
  // One task at a time: its tokens at every layer; per layer, Aᵀc_i, P c_i, the weights and ∂L/∂S; ∂L/∂V and R of
  // the layer being differentiated; the task's gradient.
  const Z = new Float64Array(K * N * D)
  const KY = new Float64Array(K * n * D)
  const VY = new Float64Array(K * n * D)
  const W = new Float64Array(K * N * n)
  const GS = new Float64Array(K * N * n)
  const LV = new Float64Array(n)
  const GW = new Float64Array(n)
  const G0 = new Float64Array(N * D)
  const G1 = new Float64Array(N * D)
  const GV = new Float64Array(n * D)
  const R = new Float64Array(n * D)
  const even = new Float64Array(parameterCount(spec))
  const odd = new Float64Array(parameterCount(spec))
  const run = (params: Float64Array, batch: RegressionBatch, grads: Float64Array, batchSize = batch.size): number => {
    if (batch.n !== n) throw new Error(`the kernel was made for n = ${n} context points, the batch has ${batch.n}`)
    return kernel(params, offsets, batch.x, batch.y, batch.query, batch.target, batch.size, batchSize, n, grads, Z, KY, VY, W, GS, LV, GW, G0, G1, GV, R, even, odd)
  }
  return run satisfies RegressionKernel
}
