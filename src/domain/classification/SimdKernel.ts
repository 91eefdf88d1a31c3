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
import { Stream, zigguratTables } from "../Rng.js"
import type { TaskConfig } from "./Config.js"
import type { Gradients } from "./FusedGradient.js"
import type { ModelSpec, Weights } from "./Model.js"
import { allocateBatch, sampleTasks, type TaskBatch } from "./Task.js"

interface KernelExports {
  readonly memory: WebAssembly.Memory
  readonly init: () => void
  readonly zigguratLayers: () => number
  readonly zigguratF: () => number
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
  readonly sampleClusterTasks: (seedLo: number, seedHi: number, stream: number, counter: number, first: number, count: number) => void
  readonly lossAndGradient: (count: number, batchSize: number) => number
  readonly benchNormals: (rounds: number, count: number) => void
  readonly benchFlops: (iterations: number) => number
}

const ATTENTION_CODE = { linear: 0, exp: 1, softmax: 2 } as const

/** Whether the WebAssembly sampler draws this task config itself (else Task.sampleTasks does, in JavaScript). */
export const samplesInWasm = (task: TaskConfig): boolean => task.family === "cluster" && !task.balanced && !task.queryClassInContext

/** A new instance of the kernel module, its tables filled: the same ziggurat and exp tables JavaScript uses. */
export const instantiateKernel = (module: WebAssembly.Module): KernelExports => {
  const exports = new WebAssembly.Instance(module, { env: { exp: Math.exp, log: Math.log } }).exports as unknown as KernelExports
  exports.init()
  const buffer = exports.memory.buffer
  const layers = new DataView(buffer, exports.zigguratLayers(), 128 * 16)
  for (let layer = 0; layer < 128; layer++) {
    layers.setFloat64(layer * 16, zigguratTables.w[layer]!, true)
    layers.setInt32(layer * 16 + 8, zigguratTables.kInt[layer]!, true)
  }
  new Float64Array(buffer, exports.zigguratF(), 128).set(zigguratTables.f)
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
        kernel.sampleClusterTasks(seed >>> 0, Math.floor(seed / 4294967296) >>> 0, Stream[stream], counter >>> 0, first >>> 0, count)
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

/** The kernel's peak rates on this thread, for the bench's bound: normals per second and flops per second. */
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
    normalsPerSecond: best(() => kernel.benchNormals(rounds, count), rounds * count * 4),
    flopsPerSecond: best(() => kernel.benchFlops(iterations), iterations * 64)
  }
}
