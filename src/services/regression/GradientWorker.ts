/**
 * The body of a regression gradient worker thread: samples and differentiates chunks of each step's training batch
 * with the K-layer kernel alongside the training thread, through GradientProtocol's shared memory, until told to stop.
 */
import { workerData } from "node:worker_threads"
import { makeRegressionChunkGradient, type RegressionChunkInput, regressionChunkCount } from "../../domain/regression/ChunkedGradient.js"
import { type GradientBuffers, reportFailure, workUntilStopped } from "../GradientProtocol.js"

/** What a regression gradient worker is started with. */
export interface RegressionGradientWorkerInput extends GradientBuffers, RegressionChunkInput {
  readonly role: "regression-gradient-worker"
  /** The compiled SIMD kernel, when the training thread computes with it (a worker then does too). */
  readonly simd: WebAssembly.Module | undefined
}

// Only a thread started as a regression gradient worker runs this body.
if ((workerData as Partial<RegressionGradientWorkerInput> | undefined)?.role === "regression-gradient-worker") {
  const input = workerData as RegressionGradientWorkerInput
  const control = new Int32Array(input.control)
  const params = new Float64Array(input.weights)
  const computeChunk = makeRegressionChunkGradient(input, new Float64Array(input.partials), input.simd)
  try {
    workUntilStopped(control, regressionChunkCount(input.batchSize), (chunk, step) => computeChunk(params, step, chunk))
  } catch (error) {
    // Recorded at once: the training thread may be waiting on this worker's chunk and see no 'error' event until then.
    reportFailure(control)
    process.stderr.write(`regression gradient worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    throw error
  }
}
