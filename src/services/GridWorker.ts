/**
 * The body of a grid-search worker thread: samples the grid-search set (the same pure function of its seed as on the
 * training thread), searches one reference's grid and posts the result back.
 */
import { parentPort, workerData } from "node:worker_threads"
import type { ReferencesConfig, TaskConfig } from "../domain/Config.js"
import type { ReferenceShape } from "../domain/GdMath.js"
import { gridSearch } from "../domain/GridSearch.js"
import { sampleTasks } from "../domain/Task.js"

export interface GridWorkerInput {
  readonly role: "grid-search"
  readonly task: TaskConfig
  readonly references: ReferencesConfig
  readonly shape: ReferenceShape
}

// Only a thread started as a grid searcher runs this body.
if (parentPort !== null && (workerData as Partial<GridWorkerInput> | undefined)?.role === "grid-search") {
  const { task, references, shape } = workerData as GridWorkerInput
  const set = sampleTasks(task, references.gridSeed, "grid", 0, references.gridSize)
  parentPort.postMessage(gridSearch(shape, set, references))
}
