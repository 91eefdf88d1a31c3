/**
 * The body of a gradient worker thread: computes chunks of each step's training batch alongside the training thread,
 * through GradientProtocol's shared memory, until told to stop.
 */
import { workerData } from "node:worker_threads"
import { chunkCount, makeChunkGradient } from "../../domain/classification/ChunkedGradient.js"
import type { TaskConfig } from "../../domain/classification/Config.js"
import type { ModelSpec } from "../../domain/classification/Model.js"
import { type GradientBuffers, reportFailure, workUntilStopped } from "../GradientProtocol.js"

/** What a classification gradient worker is started with. */
export interface GradientWorkerInput extends GradientBuffers {
  readonly role: "gradient-worker"
  readonly spec: ModelSpec
  readonly task: TaskConfig
  readonly seed: number
  readonly batchSize: number
  /** The compiled SIMD kernel, when the training thread computes with it (a worker then does too). */
  readonly simd: WebAssembly.Module | undefined
}

// Only a thread started as a gradient worker runs this body.
if ((workerData as Partial<GradientWorkerInput> | undefined)?.role === "gradient-worker") {
  const input = workerData as GradientWorkerInput
  const control = new Int32Array(input.control)
  const D = input.spec.d + input.spec.C
  const shared = new Float64Array(input.weights)
  const weights = { D, kq: shared.subarray(0, D * D), pv: shared.subarray(D * D, 2 * D * D) }
  const computeChunk = makeChunkGradient(input, new Float64Array(input.partials), input.simd)
  try {
    workUntilStopped(control, chunkCount(input.batchSize), (chunk, step) => computeChunk(weights, step, chunk))
  } catch (error) {
    // Recorded at once: the training thread may be waiting on this worker's chunk and see no 'error' event until then.
    reportFailure(control)
    process.stderr.write(`gradient worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    throw error
  }
}
