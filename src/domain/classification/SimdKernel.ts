/**
 * The fused engine's WebAssembly SIMD kernel (assembly/classification.ts), bound to a model and a task: a chunk of a
 * training batch sampled and differentiated in WebAssembly, four tasks per vector while sampling (one xoshiro128**
 * stream per i32 lane) and two while differentiating (one task per f64 lane). Every lane computes its task with
 * the same operations in the same order as the JavaScript sampler (Task.sampleTasks) and kernel (FusedKernel), and
 * the per-task sums are taken in task order, so the loss and gradient are bit for bit the JavaScript engine's:
 * a run's results do not depend on which of the two computed them.
 *
 * The cluster family with independently drawn labels and any query class (the default, and every example) is
 * sampled in WebAssembly; other task configs are sampled by Task.sampleTasks and copied into the kernel's memory.
 * The compiled module comes from the caller (services/Kernels loads it); instantiating it does no I/O.
 */
import { fastExpTables } from "../FastExp.js"
import { Stream, ziggurat128 } from "../Rng.js"
import type { TaskConfig } from "./Config.js"
import type { Gradients } from "./FusedGradient.js"
import type { ReferenceParams, ReferenceShape, ScaleObjective } from "./GdMath.js"
import type { SearchKernel } from "./GridSearch.js"
import type { ModelSpec, Weights } from "./Model.js"
import { allocateBatch, normalsOf, sampleTasks, type TaskBatch } from "./Task.js"

interface KernelExports {
  readonly memory: WebAssembly.Memory
  readonly init: () => void
  readonly zigguratLayers: (layers: number, r: number) => number
  readonly zigguratF: (layers: number) => number
  readonly expTableJ: () => number
  readonly expTableM: () => number
  readonly configure: (d: number, C: number, n: number, attention: number, attendToQuery: number, expShift: number, noiseScale: number, tasks: number) => void
  readonly weightsKq: () => number
  readonly weightsPv: () => number
  readonly gradientKq: () => number
  readonly gradientPv: () => number
  readonly contextInputs: () => number
  readonly contextLabels: () => number
  readonly queryInputs: () => number
  readonly queryLabels: () => number
  readonly sampleClusterTasks: (seedLo: number, seedHi: number, stream: number, counter: number, first: number, count: number, layers: number) => void
  readonly lossAndGradient: (count: number, batchSize: number) => number
  readonly benchNormals: (rounds: number, count: number, layers: number) => void
  readonly benchFlops: (iterations: number) => number
  readonly configureReferences: (tasks: number, n: number, C: number, selfAttend: number) => void
  readonly referenceDots: () => number
  readonly referenceLabels: () => number
  readonly referenceQueryNorms: () => number
  readonly referenceQueryLabels: () => number
  readonly referenceFeatures: (kind: number, gamma: number, count: number) => void
  readonly referenceMeanCrossEntropy: (theta: number, count: number) => number
  readonly referenceDerivatives: (theta: number, count: number) => void
  readonly referenceGradient: () => number
  readonly referenceCurvature: () => number
  readonly configureEvaluation: (d: number, C: number, n: number, tasks: number) => void
  readonly evaluationInputs: () => number
  readonly evaluationLabels: () => number
  readonly evaluationQueries: () => number
  readonly evaluationLogits: () => number
  readonly evaluationJacobians: () => number
  readonly evaluate: (attention: number, attendToQuery: number, expShift: number) => void
  readonly evaluateReference: (kind: number, gamma: number, scale: number, selfAttend: number) => void
}

const ATTENTION_CODE = { linear: 0, exp: 1, softmax: 2 } as const

/** The references the kernel computes (the ones a model matches): their codes in assembly/classification.ts. */
const REFERENCE_CODE: Partial<Record<ReferenceShape["kind"], number>> = { "gd-linear": 0, "kgd-fixed": 1, "ca-kgd": 2 }

/** Whether the kernel computes a reference's features (for its grid search and its predictions). */
export const simdReference = (kind: ReferenceShape["kind"]): boolean => REFERENCE_CODE[kind] !== undefined

/** Whether the WebAssembly sampler draws this task config itself (else Task.sampleTasks does, in JavaScript). */
export const samplesInWasm = (task: TaskConfig): boolean => task.family === "cluster" && !task.balanced && !task.queryClassInContext

/** A new instance of the kernel module, its tables filled: the same ziggurat and exp tables JavaScript uses. */
export const instantiateKernel = (module: WebAssembly.Module): KernelExports => {
  const exports = new WebAssembly.Instance(module, { env: { exp: Math.exp, log: Math.log } }).exports as unknown as KernelExports
  exports.init()
  const buffer = exports.memory.buffer
  for (const ziggurat of [ziggurat128, normalsOf("train")]) {
    const layers = new DataView(buffer, exports.zigguratLayers(ziggurat.layers, ziggurat.r), ziggurat.layers * 16)
    for (let layer = 0; layer < ziggurat.layers; layer++) {
      layers.setFloat64(layer * 16, ziggurat.w[layer]!, true)
      layers.setInt32(layer * 16 + 8, ziggurat.kInt[layer]!, true)
    }
    new Float64Array(buffer, exports.zigguratF(ziggurat.layers), ziggurat.layers).set(ziggurat.f)
  }
  new Float64Array(buffer, exports.expTableJ(), 64).set(fastExpTables.TWO_TO_J_64)
  new Float64Array(buffer, exports.expTableM(), fastExpTables.TWO_TO_M.length).set(fastExpTables.TWO_TO_M)
  return exports
}

/** The kernel configured for one model and task shape, with views of its chunk buffers. */
export interface SimdChunks {
  /** Tasks a chunk may hold. */
  readonly capacity: number
  /** Draws tasks [first, first + count) of (seed, stream, counter) into the chunk buffers (Task.sampleTasks). */
  readonly sample: (seed: number, stream: keyof typeof Stream, counter: number, first: number, count: number) => void
  /** Copies a batch's tasks [first, first + count) into the chunk buffers. */
  readonly load: (batch: TaskBatch, first: number, count: number) => void
  /** The chunk's first `count` tasks as a batch of their own (for tests). */
  readonly read: (count: number) => TaskBatch
  /**
   * The mean cross-entropy of the chunk's first `count` tasks at `weights` as a share of a batch of `batchSize`
   * (FusedKernel's contract), its gradient written into `grads`.
   */
  readonly lossAndGradient: (weights: Weights, count: number, batchSize: number, grads: Gradients) => number
}

export const simdChunks = (module: WebAssembly.Module, spec: ModelSpec, task: TaskConfig, capacity: number): SimdChunks => {
  const kernel = instantiateKernel(module)
  const { d, C } = spec
  const { n } = task
  const D = d + C
  kernel.configure(d, C, n, ATTENTION_CODE[spec.attention], spec.attendToQuery ? 1 : 0, spec.expShift, task.noise / Math.sqrt(d), capacity)
  // configure grows the memory; the views are taken after it, and it is not called again.
  const buffer = kernel.memory.buffer
  const pairs = Math.ceil(capacity / 4) * 2
  const kq = new Float64Array(buffer, kernel.weightsKq(), D * D)
  const pv = new Float64Array(buffer, kernel.weightsPv(), D * D)
  const gkq = new Float64Array(buffer, kernel.gradientKq(), D * D)
  const gpv = new Float64Array(buffer, kernel.gradientPv(), D * D)
  const x = new Float64Array(buffer, kernel.contextInputs(), pairs * n * d * 2)
  const labels = new Int32Array(buffer, kernel.contextLabels(), pairs * n * 2)
  const query = new Float64Array(buffer, kernel.queryInputs(), pairs * d * 2)
  const queryLabel = new Int32Array(buffer, kernel.queryLabels(), pairs * 2)
  const inWasm = samplesInWasm(task)
  const scratch = inWasm ? undefined : allocateBatch(capacity, n, d, C)

  const load = (batch: TaskBatch, first: number, count: number) => {
    for (let b = 0; b < count; b++) {
      const t = first + b
      const pair = b >> 1
      const lane = b & 1
      for (let i = 0; i < n; i++) {
        labels[(pair * n + i) * 2 + lane] = batch.labels[t * n + i]!
        for (let k = 0; k < d; k++) x[((pair * n + i) * d + k) * 2 + lane] = batch.x[(t * n + i) * d + k]!
      }
      for (let k = 0; k < d; k++) query[(pair * d + k) * 2 + lane] = batch.query[t * d + k]!
      queryLabel[pair * 2 + lane] = batch.queryLabel[t]!
    }
  }

  return {
    capacity,
    sample: (seed, stream, counter, first, count) => {
      if (count > capacity) throw new RangeError(`a chunk holds at most ${capacity} tasks, asked for ${count}`)
      if (scratch === undefined) {
        kernel.sampleClusterTasks(seed >>> 0, Math.floor(seed / 4294967296) >>> 0, Stream[stream], counter >>> 0, first >>> 0, count, normalsOf(stream).layers)
      } else {
        sampleTasks(task, seed, stream, counter, count, first, scratch)
        load(scratch, 0, count)
      }
    },
    load,
    read: (count) => {
      const batch = allocateBatch(count, n, d, C)
      for (let t = 0; t < count; t++) {
        const pair = t >> 1
        const lane = t & 1
        for (let i = 0; i < n; i++) {
          batch.labels[t * n + i] = labels[(pair * n + i) * 2 + lane]!
          for (let k = 0; k < d; k++) batch.x[(t * n + i) * d + k] = x[((pair * n + i) * d + k) * 2 + lane]!
        }
        for (let k = 0; k < d; k++) batch.query[t * d + k] = query[(pair * d + k) * 2 + lane]!
        batch.queryLabel[t] = queryLabel[pair * 2 + lane]!
      }
      return batch
    },
    lossAndGradient: (weights, count, batchSize, grads) => {
      kq.set(weights.kq)
      pv.set(weights.pv)
      const loss = kernel.lossAndGradient(count, batchSize)
      grads.kq.set(gkq)
      grads.pv.set(gpv)
      return loss
    }
  }
}

/**
 * The kernel's peak rates on this thread, for the bench's bound: normals per second (the training batches' ziggurat,
 * its draws outside the rectangles included) and flops per second.
 */
export const simdPeakRates = (module: WebAssembly.Module): { readonly normalsPerSecond: number; readonly flopsPerSecond: number } => {
  const kernel = instantiateKernel(module)
  kernel.configure(5, 5, 100, 2, 0, 0, 0.1, 32)
  const best = (run: () => void, work: number) => {
    run()
    let fastest = Infinity
    for (let r = 0; r < 5; r++) {
      const started = performance.now()
      run()
      fastest = Math.min(fastest, performance.now() - started)
    }
    return work / (fastest / 1000)
  }
  const rounds = 400
  const count = 500
  const iterations = 2_000_000
  return {
    normalsPerSecond: best(() => kernel.benchNormals(rounds, count, normalsOf("train").layers), rounds * count * 4),
    flopsPerSecond: best(() => kernel.benchFlops(iterations), iterations * 64)
  }
}

/**
 * A grid search's hot loops (GridSearch.SearchKernel) for gd-linear, kgd-fixed or ca-kgd in WebAssembly, on
 * a set loaded once: its x_iᵀx_q (`dots`, GdMath.queryDots), labels and ‖x_q‖². Features, mean CE and derivatives are
 * GdMath's, bit for bit (Math.log from JavaScript).
 */
export const simdSearch = (module: WebAssembly.Module, shape: ReferenceShape, batch: TaskBatch, dots: Float64Array): SearchKernel => {
  const kind = REFERENCE_CODE[shape.kind]
  if (kind === undefined) throw new RangeError(`the SIMD search does not cover ${shape.kind}`)
  const kernel = instantiateKernel(module)
  const { size, n, d, C } = batch
  kernel.configureReferences(size, n, C, shape.selfAttend ? 1 : 0)
  const buffer = kernel.memory.buffer
  const pairs = Math.ceil(size / 2)
  const pairDots = new Float64Array(buffer, kernel.referenceDots(), pairs * n * 2)
  const pairLabels = new Int32Array(buffer, kernel.referenceLabels(), pairs * n * 2)
  const queryNorms = new Float64Array(buffer, kernel.referenceQueryNorms(), pairs * 2)
  new Int32Array(buffer, kernel.referenceQueryLabels(), size).set(batch.queryLabel)
  for (let t = 0; t < size; t++) {
    const at = (t >> 1) * n * 2 + (t & 1)
    for (let i = 0; i < n; i++) {
      pairDots[at + i * 2] = dots[t * n + i]!
      pairLabels[at + i * 2] = batch.labels[t * n + i]!
    }
    // ‖x_q‖² as GdMath sums it.
    let qq = 0
    for (let k = 0; k < d; k++) qq += batch.query[t * d + k]! ** 2
    queryNorms[((t >> 1) << 1) + (t & 1)] = qq
  }
  return {
    objective: (cSigma, count): ScaleObjective => {
      kernel.referenceFeatures(kind, cSigma / Math.sqrt(shape.D), count)
      return {
        loss: (theta) => kernel.referenceMeanCrossEntropy(theta, count),
        derivatives: (theta) => {
          kernel.referenceDerivatives(theta, count)
          return { g: kernel.referenceGradient() / count, h: kernel.referenceCurvature() / count }
        }
      }
    }
  }
}

/** Predictions on a fixed range of contexts, in WebAssembly (SimdKernel's evaluation). */
export interface SimdEvaluator {
  /** Model.forwardBatch(spec, weights, contexts, true), bit for bit; the arrays are the kernel's, valid until the next call. */
  readonly predict: (spec: ModelSpec, weights: Weights) => { readonly logits: Float64Array; readonly jacobians: Float64Array }
  /**
   * GdMath.referencePredict(shape, params, contexts, true), bit for bit, for the references a model matches
   * (gd-linear, kgd-fixed, ca-kgd; undefined for others); the arrays are the kernel's, valid until the next call.
   */
  readonly predictReference: (
    shape: ReferenceShape,
    params: ReferenceParams
  ) => { readonly logits: Float64Array; readonly jacobians: Float64Array } | undefined
}

/** Loads contexts [from, to) of a set into a kernel instance of their own, once. */
export const simdEvaluator = (module: WebAssembly.Module, set: TaskBatch, from: number, to: number): SimdEvaluator => {
  const kernel = instantiateKernel(module)
  const { n, d, C } = set
  const D = d + C
  const size = to - from
  kernel.configureEvaluation(d, C, n, size)
  const buffer = kernel.memory.buffer
  const pairs = Math.ceil(size / 2)
  const x = new Float64Array(buffer, kernel.evaluationInputs(), pairs * n * d * 2)
  const labels = new Int32Array(buffer, kernel.evaluationLabels(), pairs * n * 2)
  const query = new Float64Array(buffer, kernel.evaluationQueries(), pairs * d * 2)
  for (let b = 0; b < size; b++) {
    const t = from + b
    const pair = b >> 1
    const lane = b & 1
    for (let i = 0; i < n; i++) {
      labels[(pair * n + i) * 2 + lane] = set.labels[t * n + i]!
      for (let k = 0; k < d; k++) x[((pair * n + i) * d + k) * 2 + lane] = set.x[(t * n + i) * d + k]!
    }
    for (let k = 0; k < d; k++) query[(pair * d + k) * 2 + lane] = set.query[t * d + k]!
  }
  const kq = new Float64Array(buffer, kernel.weightsKq(), D * D)
  const pv = new Float64Array(buffer, kernel.weightsPv(), D * D)
  const logits = new Float64Array(buffer, kernel.evaluationLogits(), size * C)
  const jacobians = new Float64Array(buffer, kernel.evaluationJacobians(), size * C * d)
  return {
    predict: (spec, weights) => {
      if (spec.d !== d || spec.C !== C) throw new RangeError(`a model of d ${spec.d}, C ${spec.C} on contexts of d ${d}, C ${C}`)
      kq.set(weights.kq)
      pv.set(weights.pv)
      kernel.evaluate(ATTENTION_CODE[spec.attention], spec.attendToQuery ? 1 : 0, spec.expShift)
      return { logits, jacobians }
    },
    predictReference: (shape, params) => {
      const code = REFERENCE_CODE[shape.kind]
      if (code === undefined || shape.D !== D) return undefined
      kernel.evaluateReference(code, params.cSigma / Math.sqrt(shape.D), params.scale, shape.selfAttend ? 1 : 0)
      return { logits, jacobians }
    }
  }
}
