/**
 * In-context regression tasks. A batch holds B independent tasks, each with n context pairs (x_i, y_i) and a query:
 *   x:      [B, n, d]  context inputs (uniform in [−1, 1]^d, or uniform on S^{d−1})
 *   y:      [B, n]     context labels
 *   query:  [B, d]     query input
 *   target: [B]        the query's label
 * Labels are f(x) + σ ε with f linear, f(x) = w·x with w ~ N(0, I_d) (von Oswald et al.), drawn from a Gaussian
 * process with a dot-product kernel (Cheng et al.; see GaussianProcess), or linear in a fixed random tanh layer,
 * f(x) = w·φ(x)/√m with w ~ N(0, I_m) ("random-features"; see FeatureMap). Task b at counter a draws only from its own
 * keyed stream, so a task never depends on how a batch is split.
 */
import { type FeatureMap, featureMapOf, featuresInto } from "./FeatureMap.js"
import { clippedCholesky, gramOf } from "./GaussianProcess.js"
import type { RegressionTaskConfig } from "./Config.js"
import { keyedRng, type Rng, type StreamName } from "../Rng.js"

export interface RegressionBatch {
  readonly size: number
  readonly n: number
  readonly d: number
  readonly x: Float64Array
  readonly y: Float64Array
  readonly query: Float64Array
  readonly target: Float64Array
}

export const allocateRegressionBatch = (size: number, n: number, d: number): RegressionBatch => ({
  size,
  n,
  d,
  x: new Float64Array(size * n * d),
  y: new Float64Array(size * n),
  query: new Float64Array(size * d),
  target: new Float64Array(size)
})

const sampleInput = (rng: Rng, inputs: RegressionTaskConfig["inputs"], out: Float64Array, offset: number, d: number) => {
  if (inputs === "sphere") {
    rng.fillNormals(out, offset, d)
    let squares = 0
    for (let k = 0; k < d; k++) squares += out[offset + k]! * out[offset + k]!
    if (squares === 0) out[offset] = 1
    const inverse = squares === 0 ? 1 : 1 / Math.sqrt(squares)
    for (let k = 0; k < d; k++) out[offset + k]! *= inverse
    return
  }
  for (let k = 0; k < d; k++) out[offset + k] = 2 * rng.uniform() - 1
}

/** Buffers reused across the tasks of a batch, and the random-features family's feature map. */
interface Scratch {
  readonly values: Float64Array
  readonly noise: Float64Array
  readonly w: Float64Array
  readonly points: Float64Array
  readonly featureMap: FeatureMap | null
  readonly phi: Float64Array
}

const featureMaps = new Map<string, FeatureMap>()

/** The task's feature map ("random-features"), drawn once per process for each (d, m, gain, seed). */
export const taskFeatureMap = (task: RegressionTaskConfig): FeatureMap => {
  const key = `${task.d},${task.features},${task.featureGain},${task.featureSeed}`
  let map = featureMaps.get(key)
  if (map === undefined) {
    map = featureMapOf(task)
    featureMaps.set(key, map)
  }
  return map
}

const makeScratch = (task: RegressionTaskConfig): Scratch => {
  const featureMap = task.family === "random-features" ? taskFeatureMap(task) : null
  return {
    values: new Float64Array(task.n + 1),
    noise: new Float64Array(task.n + 1),
    w: new Float64Array(featureMap === null ? task.d : featureMap.m),
    points: new Float64Array((task.n + 1) * task.d),
    featureMap,
    phi: new Float64Array(featureMap === null ? 0 : featureMap.m)
  }
}

/** Fills task `index` of `batch` from `rng`. */
export const sampleRegressionTaskInto = (
  rng: Rng,
  task: RegressionTaskConfig,
  batch: RegressionBatch,
  index: number,
  scratch: Scratch = makeScratch(task)
): void => {
  const { n, d } = task
  const xOffset = index * n * d
  for (let i = 0; i < n; i++) sampleInput(rng, task.inputs, batch.x, xOffset + i * d, d)
  sampleInput(rng, task.inputs, batch.query, index * d, d)
  const { values, noise, w } = scratch
  if (scratch.featureMap !== null) {
    const { featureMap, phi } = scratch
    const m = featureMap.m
    rng.fillNormals(w, 0, m)
    const scale = 1 / Math.sqrt(m)
    for (let i = 0; i <= n; i++) {
      featuresInto(featureMap, i < n ? batch.x : batch.query, i < n ? xOffset + i * d : index * d, phi, 0, scale)
      let v = 0
      for (let k = 0; k < m; k++) v += w[k]! * phi[k]!
      values[i] = v
    }
  } else if (task.kernel === "linear") {
    // A linear GP draw is w·x with w ~ N(0, I): sampled directly, exactly and cheaply.
    rng.fillNormals(w, 0, d)
    for (let i = 0; i <= n; i++) {
      const source = i < n ? batch.x : batch.query
      const offset = i < n ? xOffset + i * d : index * d
      let v = 0
      for (let k = 0; k < d; k++) v += w[k]! * source[offset + k]!
      values[i] = v
    }
  } else {
    const { points } = scratch
    points.set(batch.x.subarray(xOffset, xOffset + n * d), 0)
    points.set(batch.query.subarray(index * d, (index + 1) * d), n * d)
    const factor = gramOf(task.kernel, task.bandwidth, points, n + 1, d)
    clippedCholesky(factor, n + 1)
    const z = new Float64Array(n + 1)
    rng.fillNormals(z, 0, n + 1)
    for (let i = 0; i <= n; i++) {
      let v = 0
      for (let k = 0; k <= i; k++) v += factor[i * (n + 1) + k]! * z[k]!
      values[i] = v
    }
  }
  if (task.noise > 0) rng.fillNormals(noise, 0, n + 1)
  for (let i = 0; i < n; i++) batch.y[index * n + i] = values[i]! + task.noise * noise[i]!
  batch.target[index] = values[n]! + task.noise * noise[n]!
}

/**
 * Tasks [first, first + batch.size) of the sequence keyed by (seed, stream, counter) into `batch` (the draws of
 * sampleRegressionTasks, without allocating a generator per task).
 */
export const sampleRegressionTasksInto = (
  task: RegressionTaskConfig,
  seed: number,
  stream: StreamName,
  counter: number,
  batch: RegressionBatch,
  first = 0,
  scratch: Scratch = makeScratch(task),
  rng: Rng = keyedRng(seed, stream, counter, first)
): void => {
  for (let b = 0; b < batch.size; b++) sampleRegressionTaskInto(rng.rekey(seed, stream, counter, first + b), task, batch, b, scratch)
}

/** Buffers for sampleRegressionTasksInto, made once per task configuration. */
export const regressionScratch = (task: RegressionTaskConfig): Scratch => makeScratch(task)

/** Tasks [first, first + size) of the sequence keyed by (seed, stream, counter); training uses counter = step. */
export const sampleRegressionTasks = (
  task: RegressionTaskConfig,
  seed: number,
  stream: StreamName,
  counter: number,
  size: number,
  first = 0
): RegressionBatch => {
  const batch = allocateRegressionBatch(size, task.n, task.d)
  const scratch = makeScratch(task)
  for (let b = 0; b < size; b++) sampleRegressionTaskInto(keyedRng(seed, stream, counter, first + b), task, batch, b, scratch)
  return batch
}

/** Tasks [first, first + size) of a batch, as views (no copy). */
export const sliceOfBatch = (batch: RegressionBatch, first: number, size: number): RegressionBatch => {
  const { n, d } = batch
  const start = Math.min(first, batch.size)
  const end = Math.min(start + size, batch.size)
  return {
    size: end - start,
    n,
    d,
    x: batch.x.subarray(start * n * d, end * n * d),
    y: batch.y.subarray(start * n, end * n),
    query: batch.query.subarray(start * d, end * d),
    target: batch.target.subarray(start, end)
  }
}

/** The first `size` tasks of a batch. */
export const headOfBatch = (batch: RegressionBatch, size: number): RegressionBatch => sliceOfBatch(batch, 0, size)
