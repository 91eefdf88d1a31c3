/**
 * The body of a batch-prefetching worker thread: samples the training batches of its share of the steps into a small
 * pool of buffers and transfers each to the main thread, which hands the buffers back once it has trained on them.
 * Batches are the same pure function of (seed, step) as on the main thread.
 */
import { parentPort, workerData } from "node:worker_threads"
import { allocateBatch, sampleTasks, type TaskBatch } from "../../domain/classification/Task.js"
import { type BatchMessage, type BatchWorkerInput, transferList } from "./BatchProtocol.js"

// Only a thread started as a batch sampler runs this body.
if (parentPort !== null && (workerData as Partial<BatchWorkerInput> | undefined)?.role === "batch-sampler") {
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
