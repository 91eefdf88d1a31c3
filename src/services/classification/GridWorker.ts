/**
 * The body of a grid-search worker thread: searches one reference's grid on the training thread's grid-search set
 * (in shared memory) and posts the result back.
 */
import { parentPort, workerData } from "node:worker_threads"
import type { ReferencesConfig } from "../../domain/classification/Config.js"
import type { ReferenceShape } from "../../domain/classification/GdMath.js"
import { gridSearch } from "../../domain/classification/GridSearch.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import { classificationKernel } from "../Kernels.js"

export interface GridWorkerInput {
  readonly role: "grid-search"
  readonly set: TaskBatch
  readonly references: ReferencesConfig
  readonly shape: ReferenceShape
}

// Only a thread started as a grid searcher runs this body.
if (parentPort !== null && (workerData as Partial<GridWorkerInput> | undefined)?.role === "grid-search") {
  const { set, references, shape } = workerData as GridWorkerInput
  const kernel = classificationKernel()
  parentPort.postMessage(gridSearch(shape, set, references, kernel.loaded ? kernel.module : undefined))
}
