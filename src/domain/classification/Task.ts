/**
 * In-context classification tasks on the unit sphere (spec §1).
 *
 * A batch holds B independent tasks, each with n labelled context points and one query:
 *   x:          [B, n, d]  context inputs, unit norm
 *   labels:     [B, n]     context classes in {0, …, C − 1}
 *   query:      [B, d]     query input, unit norm
 *   queryLabel: [B]        the query's class
 * Task b of the batch at counter (a, b) draws only from its own keyed stream, so tasks are independent of how a batch
 * is split and of which other tasks are drawn.
 */
import type { EvaluationShift, TaskConfig } from "./Config.js"
import { keyedRng, type Rng, type StreamName, type Ziggurat, ziggurat128, ziggurat1024 } from "../Rng.js"

export interface TaskBatch {
  readonly size: number
  readonly n: number
  readonly d: number
  readonly C: number
  readonly x: Float64Array
  readonly labels: Int32Array
  readonly query: Float64Array
  readonly queryLabel: Int32Array
}

/** A batch of zeros; `shared` puts it in shared memory, which worker threads can read without a copy. */
export const allocateBatch = (size: number, n: number, d: number, C: number, shared = false): TaskBatch => {
  const memory = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes))
  return {
    size,
    n,
    d,
    C,
    x: new Float64Array(memory(size * n * d * 8)),
    labels: new Int32Array(memory(size * n * 4)),
    query: new Float64Array(memory(size * d * 8)),
    queryLabel: new Int32Array(memory(size * 4))
  }
}

const normalize = (v: Float64Array, offset: number, d: number): void => {
  let squares = 0
  for (let k = 0; k < d; k++) squares += v[offset + k]! * v[offset + k]!
  if (squares === 0) {
    v[offset] = 1
    return
  }
  const inverse = 1 / Math.sqrt(squares)
  for (let k = 0; k < d; k++) v[offset + k]! *= inverse
}

/** `count` consecutive points uniform on the sphere S^{d−1}. */
const sampleOnSphere = (rng: Rng, out: Float64Array, offset: number, d: number, count: number, normals: Ziggurat): void => {
  rng.fillNormals(out, offset, count * d, normals)
  for (let i = 0; i < count; i++) normalize(out, offset + i * d, d)
}

/**
 * normalize(μ_c + ε g / √d), g ~ N(0, I_d): noisy copies of class vectors, back on the sphere, for `count` consecutive
 * points whose labels start at labels[labelOffset].
 */
const sampleAroundClasses = (
  rng: Rng,
  classVectors: Float64Array,
  labels: Int32Array,
  labelOffset: number,
  noise: number,
  out: Float64Array,
  offset: number,
  d: number,
  count: number,
  normals: Ziggurat
): void => {
  rng.fillNormals(out, offset, count * d, normals)
  aroundClassesFor(d)(classVectors, labels, labelOffset, noise / Math.sqrt(d), out, offset, count)
}

type AroundClasses = (
  classVectors: Float64Array,
  labels: Int32Array,
  labelOffset: number,
  scale: number,
  out: Float64Array,
  offset: number,
  count: number
) => void

const aroundClassesByDimension = new Map<number, AroundClasses>()

/**
 * In place, for `count` points of dimension d: out ← normalize(μ_label + scale · out). Generated once per d with the
 * loop over coordinates unrolled (a third of sampling's time otherwise); sums run in coordinate order, as a loop's.
 */
const aroundClassesFor = (d: number): AroundClasses => {
  let compiled = aroundClassesByDimension.get(d)
  if (compiled === undefined) {
    const K = Array.from({ length: d }, (_, k) => k)
    compiled = new Function(
      "classVectors, labels, labelOffset, scale, out, offset, count",
      `for (let p = 0; p < count; p++) {
  const o = offset + p * ${d};
  const base = labels[labelOffset + p] * ${d};
  ${K.map((k) => `const v${k} = classVectors[base + ${k}] + scale * out[o + ${k}];`).join("\n  ")}
  const squares = ${K.map((k) => `v${k} * v${k}`).join(" + ")};
  if (squares === 0) {
    out[o] = 1;
    ${K.slice(1).map((k) => `out[o + ${k}] = 0;`).join(" ")}
    continue;
  }
  const inverse = 1 / Math.sqrt(squares);
  ${K.map((k) => `out[o + ${k}] = v${k} * inverse;`).join("\n  ")}
}`
    ) as AroundClasses
    aroundClassesByDimension.set(d, compiled)
  }
  return compiled
}

const nearestClass = (classVectors: Float64Array, v: Float64Array, offset: number, d: number, C: number): number => {
  let best = 0
  let bestDot = -Infinity
  for (let c = 0; c < C; c++) {
    let dot = 0
    for (let k = 0; k < d; k++) dot += classVectors[c * d + k]! * v[offset + k]!
    if (dot > bestDot) {
      bestDot = dot
      best = c
    }
  }
  return best
}

const sampleContextLabels = (rng: Rng, task: TaskConfig, labels: Int32Array, offset: number): void => {
  const { n, C } = task
  if (!task.balanced) {
    rng.fillInts(labels, offset, n, C)
    return
  }
  // A balanced multiset (n/C per class, the remainder spread at random), then a Fisher–Yates shuffle.
  const remainderStart = n - (n % C)
  for (let i = 0; i < n; i++) labels[offset + i] = i < remainderStart ? i % C : rng.int(C)
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const tmp = labels[offset + i]!
    labels[offset + i] = labels[offset + j]!
    labels[offset + j] = tmp
  }
}

const labelPresent = (labels: Int32Array, offset: number, n: number, label: number): boolean => {
  for (let i = 0; i < n; i++) if (labels[offset + i] === label) return true
  return false
}

/** Whether a shift changes which classes the context holds (and so the order in which a task's labels are drawn). */
const relabels = (shift: EvaluationShift): boolean => shift.imbalance !== 1 || shift.queryClass !== "any" || shift.contextClasses !== null

/**
 * Labels of a context under a label shift, after the query's class c_q = queryLabel: the classes the context may
 * hold (all, or all but c_q when it is absent), a random subset of `contextClasses` of them (c_q first when it is
 * present), and n labels drawn among them with probabilities ∝ ρ^(−rank/(m−1)) for a random ranking (ρ = imbalance).
 */
const sampleShiftedLabels = (rng: Rng, task: TaskConfig, shift: EvaluationShift, queryLabel: number, labels: Int32Array, offset: number): void => {
  const { n, C } = task
  const others = Array.from({ length: C }, (_, c) => c).filter((c) => c !== queryLabel)
  const absent = shift.queryClass === "absent"
  const size = shift.contextClasses ?? (absent ? C - 1 : C)
  const pick = absent ? size : size - 1
  // A partial Fisher–Yates shuffle of the other classes: the first `pick` are a uniform random subset.
  for (let i = 0; i < pick; i++) {
    const j = i + rng.int(others.length - i)
    const tmp = others[i]!
    others[i] = others[j]!
    others[j] = tmp
  }
  const classes = absent ? others.slice(0, pick) : [queryLabel, ...others.slice(0, pick)]
  const m = classes.length
  const cumulative = new Float64Array(m)
  let total = 0
  if (shift.imbalance === 1 || m === 1) {
    for (let j = 0; j < m; j++) cumulative[j] = total += 1
  } else {
    const ranks = Array.from({ length: m }, (_, r) => r)
    for (let i = m - 1; i > 0; i--) {
      const j = rng.int(i + 1)
      const tmp = ranks[i]!
      ranks[i] = ranks[j]!
      ranks[j] = tmp
    }
    for (let j = 0; j < m; j++) cumulative[j] = total += Math.pow(shift.imbalance, -ranks[j]! / (m - 1))
  }
  for (let i = 0; i < n; i++) {
    const u = rng.uniform() * total
    let j = 0
    while (j < m - 1 && u >= cumulative[j]!) j++
    labels[offset + i] = classes[j]!
  }
}

/**
 * Fills task `index` of `batch` with one task drawn from `rng` (spec §1.2 cluster, §1.3 voronoi); `shift` moves the
 * task away from the training distribution (evaluation sets only; see EvaluationShift). Without a shift, or with one
 * that leaves the labels alone, the draws are those of training.
 */
export const sampleTaskInto = (
  rng: Rng,
  task: TaskConfig,
  batch: TaskBatch,
  index: number,
  classVectors: Float64Array = new Float64Array(task.C * task.d),
  shift?: EvaluationShift,
  /** The normal sampler: the 128-layer ziggurat, except for training batches (see {@link normalsOf}). */
  normals: Ziggurat = ziggurat128
): void => {
  sampleUnscaledTaskInto(rng, task, batch, index, classVectors, shift, normals)
  if (shift !== undefined && shift.inputScale !== 1) {
    const { n, d } = task
    for (let k = index * n * d; k < (index + 1) * n * d; k++) batch.x[k]! *= shift.inputScale
    for (let k = index * d; k < (index + 1) * d; k++) batch.query[k]! *= shift.inputScale
  }
}

const sampleUnscaledTaskInto = (
  rng: Rng,
  task: TaskConfig,
  batch: TaskBatch,
  index: number,
  classVectors: Float64Array,
  shift: EvaluationShift | undefined,
  normals: Ziggurat
): void => {
  const { n, d, C } = task
  sampleOnSphere(rng, classVectors, 0, d, C, normals)
  const xOffset = index * n * d
  const labelOffset = index * n
  const queryOffset = index * d
  switch (task.family) {
    case "cluster": {
      const noise = shift?.noise ?? task.noise
      if (shift !== undefined && relabels(shift)) {
        const queryLabel = rng.int(C)
        batch.queryLabel[index] = queryLabel
        sampleShiftedLabels(rng, task, shift, queryLabel, batch.labels, labelOffset)
        sampleAroundClasses(rng, classVectors, batch.labels, labelOffset, noise, batch.x, xOffset, d, n, normals)
        sampleAroundClasses(rng, classVectors, batch.queryLabel, index, noise, batch.query, queryOffset, d, 1, normals)
        return
      }
      sampleContextLabels(rng, task, batch.labels, labelOffset)
      sampleAroundClasses(rng, classVectors, batch.labels, labelOffset, noise, batch.x, xOffset, d, n, normals)
      let queryLabel = rng.int(C)
      while (task.queryClassInContext && !labelPresent(batch.labels, labelOffset, n, queryLabel)) queryLabel = rng.int(C)
      batch.queryLabel[index] = queryLabel
      sampleAroundClasses(rng, classVectors, batch.queryLabel, index, noise, batch.query, queryOffset, d, 1, normals)
      return
    }
    case "voronoi": {
      sampleOnSphere(rng, batch.x, xOffset, d, n, normals)
      for (let i = 0; i < n; i++) batch.labels[labelOffset + i] = nearestClass(classVectors, batch.x, xOffset + i * d, d, C)
      for (let attempt = 0; ; attempt++) {
        sampleOnSphere(rng, batch.query, queryOffset, d, 1, normals)
        const queryLabel = nearestClass(classVectors, batch.query, queryOffset, d, C)
        batch.queryLabel[index] = queryLabel
        // The context always holds at least one class, so some query direction lands in it; the bound only guards
        // against pathological configs (a tiny context in high dimension).
        if (!task.queryClassInContext || labelPresent(batch.labels, labelOffset, n, queryLabel) || attempt > 10_000) {
          return
        }
      }
    }
  }
}

/**
 * The normal sampler of a stream's tasks: training batches draw from the 1024-layer ziggurat (since issue 15: cheaper
 * to vectorise, SimdKernel), the frozen evaluation and grid-search sets from the 128-layer one they have always used.
 */
export const normalsOf = (stream: StreamName): Ziggurat => (stream === "train" ? ziggurat1024 : ziggurat128)

/**
 * The tasks with indices [first, first + size) of the task sequence keyed by (seed, stream, counter), written at
 * positions [at, at + size) of the batch.
 * Training batches use counter = step; evaluation and grid-search sets use counter 0.
 */
export const sampleTasks = (
  task: TaskConfig,
  seed: number,
  stream: StreamName,
  counter: number,
  size: number,
  first = 0,
  into?: TaskBatch,
  /** Where in `into` the first task goes (to fill part of a batch). */
  at = 0
): TaskBatch => {
  const batch = into ?? allocateBatch(size, task.n, task.d, task.C)
  const classVectors = new Float64Array(task.C * task.d)
  const rng = keyedRng(seed, stream, counter, first)
  const normals = normalsOf(stream)
  for (let b = 0; b < size; b++) sampleTaskInto(rng.rekey(seed, stream, counter, first + b), task, batch, at + b, classVectors, undefined, normals)
  return batch
}

/**
 * The frozen set of `size` tasks keyed by (seed, stream), each moved by `shift`: the same tasks as
 * {@link sampleTasks} when the shift is neutral, else tasks drawn from the shifted distribution.
 */
export const sampleShiftedTasks = (task: TaskConfig, shift: EvaluationShift, seed: number, stream: StreamName, size: number, into?: TaskBatch): TaskBatch => {
  const batch = into ?? allocateBatch(size, task.n, task.d, task.C)
  const classVectors = new Float64Array(task.C * task.d)
  const rng = keyedRng(seed, stream, 0, 0)
  const normals = normalsOf(stream)
  for (let b = 0; b < size; b++) sampleTaskInto(rng.rekey(seed, stream, 0, b), task, batch, b, classVectors, shift, normals)
  return batch
}

/** The tasks with the given indices of a batch, as a batch of their own. */
export const sliceBatch = (batch: TaskBatch, indices: ReadonlyArray<number>): TaskBatch => {
  const { n, d, C } = batch
  const out = allocateBatch(indices.length, n, d, C)
  indices.forEach((t, b) => {
    out.x.set(batch.x.subarray(t * n * d, (t + 1) * n * d), b * n * d)
    out.labels.set(batch.labels.subarray(t * n, (t + 1) * n), b * n)
    out.query.set(batch.query.subarray(t * d, (t + 1) * d), b * d)
    out.queryLabel[b] = batch.queryLabel[t]!
  })
  return out
}

/** One task of a frozen set together with its class vectors [C, d] (for pictures of contexts, Figure 2). */
export const exampleTask = (task: TaskConfig, seed: number, index = 0): { readonly batch: TaskBatch; readonly classVectors: Float64Array } => {
  const batch = allocateBatch(1, task.n, task.d, task.C)
  const classVectors = new Float64Array(task.C * task.d)
  sampleTaskInto(keyedRng(seed, "evaluation", 0, index), task, batch, 0, classVectors)
  return { batch, classVectors }
}
