/**
 * The body of a batch-prefetching worker thread: samples the training batches of its share of the steps into a small
 * pool of buffers and transfers each to the main thread, which hands the buffers back once it has trained on them.
 * Batches are the same pure function of (seed, step) as on the main thread.
 */
import { parentPort, workerData } from "node:worker_threads"
import type { TaskConfig } from "../domain/Config.js"
import { allocateBatch, sampleTasks, type TaskBatch } from "../domain/Task.js"

export interface BatchWorkerInput {
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

if (parentPort !== null) {
  const port = parentPort
  const input = workerData as BatchWorkerInput
  const { task, seed, batchSize } = input
  const free: Array<TaskBatch> = Array.from({ length: input.depth }, () => allocateBatch(batchSize, task.n, task.d, task.C))
  let step = input.firstStep
  const pump = () => {
    while (free.length > 0 && step <= input.lastStep) {
      const batch = sampleTasks(task, seed, "train", step, batchSize, 0, free.pop())
      const message: BatchMessage = { step, x: batch.x, labels: batch.labels, query: batch.query, queryLabel: batch.queryLabel }
      port.postMessage(message, transferList(message))
      step += input.stride
    }
  }
  port.on("message", (returned: Omit<BatchMessage, "step">) => {
    free.push({ size: batchSize, n: task.n, d: task.d, C: task.C, ...returned })
    pump()
  })
  pump()
}
