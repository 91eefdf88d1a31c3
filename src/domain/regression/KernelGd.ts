/**
 * The regression references, computed in function space (no tokens): K steps of functional gradient descent from
 * f = 0 on the in-context loss (1/2n) Σ_i (f(x_i) − y_i)² in the RKHS of a kernel h(s x·x'),
 *   f_{k+1}(x) = f_k(x) + (η/n) Σ_i (y_i − f_k(x_i)) h(s x_i·x)                      (linear, ReLU, exp)
 *   f_{k+1}(x) = f_k(x) + η Σ_i (y_i − f_k(x_i)) softmax_i(s x_i·x)                  (softmax: context-adaptive)
 * which is K steps of plain GD on w for the linear kernel (von Oswald et al.), and the Gaussian-process posterior mean
 * (Bayes-optimal). Step size and scale are chosen on a grid-search set: a log scan, then golden-section refinement.
 */
import { clippedCholesky, gramOf, kernelSlope, kernelValue, posteriorWeights } from "./GaussianProcess.js"
import { goldenSection, logSpace } from "../Search.js"
import type { LogRange } from "../ConfigSchema.js"
import type { FunctionKernel, RegressionActivation } from "./Config.js"
import { squaredLoss } from "./Model.js"
import type { RegressionBatch } from "./Task.js"

/** For each task, the kernel weights of the context at every context point and at the query, for one scale s. */
export interface KernelTables {
  readonly activation: RegressionActivation
  readonly scale: number
  readonly n: number
  /** [B, n + 1, n]: row j (a context point, then the query) holds the weight of each context point i. */
  readonly weights: Float64Array
}

const activate = (activation: RegressionActivation, score: number): number =>
  activation === "linear" ? score : activation === "relu" ? (score > 0 ? score : 0) : Math.exp(score)

export const kernelTables = (activation: RegressionActivation, scale: number, batch: RegressionBatch): KernelTables => {
  const { n, d, size } = batch
  const weights = new Float64Array(size * (n + 1) * n)
  const row = new Float64Array(n)
  for (let t = 0; t < size; t++) {
    for (let j = 0; j <= n; j++) {
      const target = j < n ? batch.x : batch.query
      const tOffset = j < n ? (t * n + j) * d : t * d
      let largest = -Infinity
      for (let i = 0; i < n; i++) {
        let dot = 0
        for (let k = 0; k < d; k++) dot += batch.x[(t * n + i) * d + k]! * target[tOffset + k]!
        row[i] = scale * dot
        if (row[i]! > largest) largest = row[i]!
      }
      const base = (t * (n + 1) + j) * n
      if (activation === "softmax") {
        let total = 0
        for (let i = 0; i < n; i++) {
          row[i] = Math.exp(row[i]! - largest)
          total += row[i]!
        }
        for (let i = 0; i < n; i++) weights[base + i] = row[i]! / total
      } else {
        for (let i = 0; i < n; i++) weights[base + i] = activate(activation, row[i]!) / n
      }
    }
  }
  return { activation, scale, n, weights }
}

/** Predictions of K steps of functional GD with step size η (tables give the kernel and its scale). */
export const kernelGdPredictions = (tables: KernelTables, batch: RegressionBatch, eta: number, steps: number): Float64Array => {
  const { n } = batch
  const out = new Float64Array(batch.size)
  const fitted = new Float64Array(n)
  const residual = new Float64Array(n)
  for (let t = 0; t < batch.size; t++) {
    fitted.fill(0)
    let query = 0
    for (let step = 0; step < steps; step++) {
      for (let i = 0; i < n; i++) residual[i] = batch.y[t * n + i]! - fitted[i]!
      for (let j = 0; j <= n; j++) {
        const base = (t * (n + 1) + j) * n
        let change = 0
        for (let i = 0; i < n; i++) change += tables.weights[base + i]! * residual[i]!
        if (j < n) fitted[j]! += eta * change
        else query += eta * change
      }
    }
    out[t] = query
  }
  return out
}

export interface KernelGdFit {
  readonly activation: RegressionActivation
  readonly steps: number
  readonly scale: number
  readonly eta: number
  /** ½ mean squared error on the grid-search set at (scale, eta). */
  readonly loss: number
  /** The best loss over η at each scanned scale (one entry for linear and ReLU kernels). */
  readonly scan: ReadonlyArray<{ readonly scale: number; readonly eta: number; readonly loss: number }>
}

/** Linear and ReLU kernels are homogeneous: h(s t) = s h(t) for s > 0, so the scale folds into η. */
export const scaleMatters = (activation: RegressionActivation): boolean => activation === "exp" || activation === "softmax"

/** The best η for given kernel tables: exact for one step (the prediction is linear in η), else scan and refine. */
const bestEta = (tables: KernelTables, batch: RegressionBatch, steps: number, etaRange: LogRange) => {
  if (steps === 1) {
    const g = kernelGdPredictions(tables, batch, 1, 1)
    let gy = 0
    let gg = 0
    for (let t = 0; t < batch.size; t++) {
      gy += g[t]! * batch.target[t]!
      gg += g[t]! * g[t]!
    }
    const eta = gg > 0 ? gy / gg : 0
    return { eta, loss: squaredLoss(g.map((v) => v * eta), batch.target) }
  }
  const loss = (eta: number) => {
    const value = squaredLoss(kernelGdPredictions(tables, batch, eta, steps), batch.target)
    return Number.isFinite(value) ? value : Number.MAX_VALUE
  }
  const grid = logSpace(etaRange.min, etaRange.max, etaRange.count)
  const losses = grid.map(loss)
  let best = 0
  for (let i = 1; i < grid.length; i++) if (losses[i]! < losses[best]!) best = i
  const lo = Math.log(grid[Math.max(0, best - 1)]!)
  const hi = Math.log(grid[Math.min(grid.length - 1, best + 1)]!)
  const refined = goldenSection((u) => loss(Math.exp(u)), lo, hi, 40)
  return refined.value < losses[best]! ? { eta: Math.exp(refined.x), loss: refined.value } : { eta: grid[best]!, loss: losses[best]! }
}

/** Grid-optimal (s, η) of K-step functional GD with the given kernel on a grid-search set. */
export const fitKernelGd = (
  activation: RegressionActivation,
  steps: number,
  batch: RegressionBatch,
  ranges: { readonly eta: LogRange; readonly scale: LogRange }
): KernelGdFit => {
  const atScale = (scale: number) => ({ scale, ...bestEta(kernelTables(activation, scale, batch), batch, steps, ranges.eta) })
  if (!scaleMatters(activation)) {
    const only = atScale(1)
    return { activation, steps, ...only, scan: [only] }
  }
  const scan = logSpace(ranges.scale.min, ranges.scale.max, ranges.scale.count).map(atScale)
  let best = 0
  for (let i = 1; i < scan.length; i++) if (scan[i]!.loss < scan[best]!.loss) best = i
  const lo = Math.log(scan[Math.max(0, best - 1)]!.scale)
  const hi = Math.log(scan[Math.min(scan.length - 1, best + 1)]!.scale)
  const refined = goldenSection((u) => atScale(Math.exp(u)).loss, lo, hi, 30)
  const candidate = atScale(Math.exp(refined.x))
  const chosen = candidate.loss < scan[best]!.loss ? candidate : scan[best]!
  return { activation, steps, ...chosen, scan }
}

/** K steps of plain GD on w (from w = 0) for the in-context least-squares loss: the textbook form, for tests. */
export const explicitGdPrediction = (batch: RegressionBatch, t: number, eta: number, steps: number): number => {
  const { n, d } = batch
  const w = new Float64Array(d)
  for (let step = 0; step < steps; step++) {
    const gradient = new Float64Array(d)
    for (let i = 0; i < n; i++) {
      let error = -batch.y[t * n + i]!
      for (let k = 0; k < d; k++) error += w[k]! * batch.x[(t * n + i) * d + k]!
      for (let k = 0; k < d; k++) gradient[k]! += (error * batch.x[(t * n + i) * d + k]!) / n
    }
    for (let k = 0; k < d; k++) w[k]! -= eta * gradient[k]!
  }
  let prediction = 0
  for (let k = 0; k < d; k++) prediction += w[k]! * batch.query[t * d + k]!
  return prediction
}

/**
 * The Gaussian-process posterior mean at every query, and its gradient in x_q ([B, d]), for the prior the tasks were
 * drawn from (GaussianProcess explains the factored covariance).
 */
export const posteriorMean = (
  kernel: FunctionKernel,
  bandwidth: number,
  noise: number,
  batch: RegressionBatch
): { readonly prediction: Float64Array; readonly sensitivity: Float64Array } => {
  const { n, d, size } = batch
  const prediction = new Float64Array(size)
  const sensitivity = new Float64Array(size * d)
  for (let t = 0; t < size; t++) {
    // The task's context inputs are already consecutive in the batch.
    const factor = gramOf(kernel, bandwidth, batch.x.subarray(t * n * d, (t + 1) * n * d), n, d)
    const kept = clippedCholesky(factor, n)
    const beta = posteriorWeights(factor, kept, n, batch.y, t * n, noise * noise)
    let mean = 0
    for (let i = 0; i < n; i++) {
      if (beta[i] === 0) continue
      let dot = 0
      for (let k = 0; k < d; k++) dot += batch.x[(t * n + i) * d + k]! * batch.query[t * d + k]!
      mean += beta[i]! * kernelValue(kernel, bandwidth, dot)
      const slope = beta[i]! * kernelSlope(kernel, bandwidth, dot)
      for (let k = 0; k < d; k++) sensitivity[t * d + k]! += slope * batch.x[(t * n + i) * d + k]!
    }
    prediction[t] = mean
  }
  return { prediction, sensitivity }
}
