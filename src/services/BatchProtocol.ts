/**
 * The messages between the main thread and the batch-prefetching worker threads (the worker's body is BatchWorker).
 */
import type { TaskConfig } from "../domain/Config.js"

export interface BatchWorkerInput {
  readonly role: "batch-sampler"
  readonly task: TaskConfig
  readonly seed: number
  readonly batchSize: number
  /** The worker samples tasks [0, workerTasks) of each batch (the main thread fills in the rest) until told otherwise. */
  readonly workerTasks: number
  readonly firstStep: number
  readonly lastStep: number
  /** This worker samples every `stride`-th step from firstStep on (workers share the steps round-robin). */
  readonly stride: number
  readonly depth: number
}

export interface BatchMessage {
  readonly step: number
  /** The worker sampled tasks [0, filled) of this batch. */
  readonly filled: number
  readonly x: Float64Array
  readonly labels: Int32Array
  readonly query: Float64Array
  readonly queryLabel: Int32Array
}

export const transferList = (m: Pick<BatchMessage, "x" | "labels" | "query" | "queryLabel">): Array<ArrayBuffer> => [
  m.x.buffer as ArrayBuffer,
  m.labels.buffer as ArrayBuffer,
  m.query.buffer as ArrayBuffer,
  m.queryLabel.buffer as ArrayBuffer
]


/** Buffers handed back to a worker, with how many tasks of each later batch it should sample. */
export interface ReturnedBuffers extends Pick<BatchMessage, "x" | "labels" | "query" | "queryLabel"> {
  readonly workerTasks: number
}
