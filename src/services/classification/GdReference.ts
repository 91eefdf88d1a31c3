/**
 * The GD references: grid-optimal parameters on the grid-search set, predictions at any parameters, and parameters
 * read off trained weights. Grid searches are cached per (task, grid, reference), since every seed of a sweep shares
 * them.
 */
import { Worker } from "node:worker_threads"
import { Effect } from "effect"
import type { ReferencesConfig, TaskConfig } from "../../domain/classification/Config.js"
import { canonicalJson } from "../../domain/ConfigSchema.js"
import { extractParameters } from "../../domain/classification/Extraction.js"
import { type ReferenceParams, referencePredict, type ReferenceShape } from "../../domain/classification/GdMath.js"
import { type GridResult, gridSearch } from "../../domain/classification/GridSearch.js"
import type { ModelSpec, Weights } from "../../domain/classification/Model.js"
import type { Predictions } from "../../domain/classification/Metrics.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import type { GridWorkerInput } from "./GridWorker.js"
import { TaskSampler } from "./TaskSampler.js"
import { classificationKernel } from "../Kernels.js"
import { workerEntry } from "../WorkerEntry.js"

/** A grid search on a worker thread of its own, on a set in shared memory (a frozen set: the worker reads it in place). */
const searchOnWorker = (input: Omit<GridWorkerInput, "role">) =>
  Effect.async<GridResult, Error>((resume) => {
    const workerData: GridWorkerInput = { role: "grid-search", ...input }
    const worker = new Worker(workerEntry("grid-worker", new URL("./grid-worker.mjs", import.meta.url)), { workerData })
    worker.once("message", (result: GridResult) => {
      resume(Effect.succeed(result))
      void worker.terminate()
    })
    worker.once("error", (error) => resume(Effect.fail(error)))
    return Effect.promise(() => worker.terminate())
  })

export class GdReference extends Effect.Service<GdReference>()("icl-gd/GdReference", {
  effect: Effect.gen(function* () {
    const sampler = yield* TaskSampler
    const grids = new Map<string, GridResult>()

    /**
     * Grid-optimal parameters of a reference on the grid-search set of the task; `onWorker` searches on a worker
     * thread (the same result), so that this thread can search another reference meanwhile.
     */
    const gridOptimum = (task: TaskConfig, references: ReferencesConfig, shape: ReferenceShape, onWorker = false) =>
      Effect.gen(function* () {
        const key = canonicalJson({ task, references, shape })
        const cached = grids.get(key)
        if (cached) return cached
        const set = yield* sampler.gridSet(task, references.gridSeed, references.gridSize)
        const kernel = classificationKernel()
        const onThisThread = Effect.sync(() => gridSearch(shape, set, references, kernel.loaded ? kernel.module : undefined))
        const search = onWorker
          ? searchOnWorker({ set, references, shape }).pipe(
              Effect.catchAll((error) =>
                Effect.logWarning(`grid search worker failed (${error.message}); searching on this thread`).pipe(Effect.zipRight(onThisThread))
              )
            )
          : onThisThread
        const result = yield* search.pipe(
          Effect.withLogSpan("grid"),
          Effect.tap((r) =>
            Effect.logDebug(`grid optimum of ${shape.kind}`).pipe(
              Effect.annotateLogs({ cSigma: r.best.cSigma, scale: r.best.scale, loss: r.best.loss })
            )
          )
        )
        grids.set(key, result)
        return result
      })

    const predict = (shape: ReferenceShape, params: ReferenceParams, set: TaskBatch, withJacobian: boolean) =>
      Effect.sync((): Predictions => referencePredict(shape, params, set, withJacobian))

    const extract = (spec: ModelSpec, weights: Weights, n: number, initial?: Weights) =>
      Effect.sync(() => extractParameters(spec, weights, n, initial))

    return { gridOptimum, predict, extract } as const
  }),
  dependencies: [TaskSampler.Default]
}) {}
