/**
 * The messages between the main thread and the batch-prefetching worker threads (the worker's body is BatchWorker).
 */
import type { TaskConfig } from "../../domain/classification/Config.js"

export interface BatchWorkerInput {
  readonly role: "batch-sampler"
  readonly task: TaskConfig
  readonly seed: number
  readonly batchSize: number
  readonly firstStep: number
  readonly lastStep: number
  /** This worker samples every `stride`-th step from firstStep on (workers share the steps round-robin). */
  readonly stride: number
  readonly depth: number
}

export interface BatchMessage {
  readonly step: number
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

