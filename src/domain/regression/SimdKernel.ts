/**
 * The K-layer regression engine's WebAssembly SIMD kernel (assembly/regression.ts), bound to a model and a task
 * shape: a chunk of tasks differentiated two at a time, one task per f64x2 lane, each lane with the same operations in
 * the same order as the JavaScript kernel (DeepKernel), and the tasks' gradients added in task order, so the loss and
 * gradient are DeepKernel's bit for bit: a run's results do not depend on which of the two computed them.
 *
 * It covers every activation (linear, ReLU, exp, softmax; exps are Math.exp's own, imported) without an embedding
 * (an embedding trains on TensorFlow.js). The compiled module comes from the caller (services/Kernels loads it);
 * instantiating it does no I/O.
 */
import { distinctLayers, layerOffset, parameterCount, type RegressionSpec } from "./Model.js"
import type { RegressionBatch } from "./Task.js"

interface KernelExports {
  readonly memory: WebAssembly.Memory
  readonly configure: (d: number, n: number, K: number, distinct: number, activation: number, tasks: number) => void
  readonly weights: () => number
  readonly gradient: () => number
  readonly offsets: () => number
  readonly inputs: () => number
  readonly labels: () => number
  readonly queries: () => number
  readonly targets: () => number
  readonly lossAndGradient: (count: number, batchSize: number) => number
}

const ACTIVATION_CODE: Record<RegressionSpec["activation"], number> = { linear: 0, relu: 1, exp: 2, softmax: 3 }

/** Whether the SIMD kernel computes this model (else DeepKernel does, in JavaScript). */
export const simdCovers = (spec: RegressionSpec): boolean =>
  (spec.embedding ?? null) === null && ACTIVATION_CODE[spec.activation] !== undefined

export interface SimdDeepKernel {
  (params: Float64Array, batch: RegressionBatch, grads: Float64Array, batchSize?: number): number
  /** Tasks a call may hold. */
  readonly capacity: number
  /**
   * A batch of `size` ≤ capacity tasks whose arrays lie in the kernel's memory: a sampler that fills it writes the
   * kernel's input in place, and a call on it copies nothing. Every batch it returns shares that memory.
   */
  readonly inPlace: (size: number) => RegressionBatch
}

/**
 * The kernel for one model and task shape, for calls of up to `capacity` tasks: DeepKernel's contract (the tasks'
 * mean loss as a share of a batch of `batchSize`, the gradient overwriting `grads`). A batch not from `inPlace` is
 * copied into the kernel's memory first.
 */
export const simdDeepKernel = (module: WebAssembly.Module, spec: RegressionSpec, n: number, capacity: number): SimdDeepKernel => {
  const code = ACTIVATION_CODE[spec.activation]
  if (!simdCovers(spec) || code === undefined) throw new Error(`the SIMD kernel does not compute ${spec.activation} attention${spec.embedding ? " with an embedding" : ""}`)
  const kernel = new WebAssembly.Instance(module, { env: { exp: Math.exp } }).exports as unknown as KernelExports
  const { d, depth: K } = spec
  kernel.configure(d, n, K, distinctLayers(spec), code, capacity)
  // configure grows the memory; the views are taken after it, and it is not called again.
  const buffer = kernel.memory.buffer
  const P = parameterCount(spec)
  const params = new Float64Array(buffer, kernel.weights(), P)
  const gradient = new Float64Array(buffer, kernel.gradient(), P)
  new Int32Array(buffer, kernel.offsets(), K).set(Array.from({ length: K }, (_, l) => layerOffset(spec, l)))
  const x = new Float64Array(buffer, kernel.inputs(), capacity * n * d)
  const y = new Float64Array(buffer, kernel.labels(), capacity * n)
  const query = new Float64Array(buffer, kernel.queries(), capacity * d)
  const target = new Float64Array(buffer, kernel.targets(), capacity)
  const inPlace = (size: number): RegressionBatch => {
    if (size > capacity) throw new Error(`the kernel holds ${capacity} tasks, not ${size}`)
    return { size, n, d, x: x.subarray(0, size * n * d), y: y.subarray(0, size * n), query: query.subarray(0, size * d), target: target.subarray(0, size) }
  }
  const run = (values: Float64Array, batch: RegressionBatch, grads: Float64Array, batchSize = batch.size): number => {
    if (batch.n !== n || batch.d !== d) throw new Error(`the kernel was made for n = ${n}, d = ${d}; the batch has n = ${batch.n}, d = ${batch.d}`)
    if (batch.size > capacity) throw new Error(`the kernel holds ${capacity} tasks, the batch has ${batch.size}`)
    if (batch.x.buffer !== buffer || batch.x.byteOffset !== x.byteOffset) {
      x.set(batch.x.subarray(0, batch.size * n * d))
      y.set(batch.y.subarray(0, batch.size * n))
      query.set(batch.query.subarray(0, batch.size * d))
      target.set(batch.target.subarray(0, batch.size))
    }
    params.set(values.subarray(0, P))
    const loss = kernel.lossAndGradient(batch.size, batchSize)
    grads.set(gradient)
    return loss
  }
  return Object.assign(run, { capacity, inPlace })
}
