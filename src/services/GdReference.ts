/**
 * The GD references: grid-optimal parameters on the grid-search set, predictions at any parameters, and parameters
 * read off trained weights. Grid searches are cached per (task, grid, reference), since every seed of a sweep shares
 * them.
 */
import { Effect } from "effect"
import { canonicalJson, type ReferencesConfig, type TaskConfig } from "../domain/Config.js"
import { extractParameters } from "../domain/Extraction.js"
import { type ReferenceParams, referencePredict, type ReferenceShape } from "../domain/GdMath.js"
import { type GridResult, gridSearch } from "../domain/GridSearch.js"
import type { ModelSpec, Weights } from "../domain/Model.js"
import type { Predictions } from "../domain/Metrics.js"
import type { TaskBatch } from "../domain/Task.js"
import { TaskSampler } from "./TaskSampler.js"

export class GdReference extends Effect.Service<GdReference>()("icl-gd/GdReference", {
  effect: Effect.gen(function* () {
    const sampler = yield* TaskSampler
    const grids = new Map<string, GridResult>()

    /** Grid-optimal parameters of a reference on the grid-search set of the task. */
    const gridOptimum = (task: TaskConfig, references: ReferencesConfig, shape: ReferenceShape) =>
      Effect.gen(function* () {
        const key = canonicalJson({ task, references, shape })
        const cached = grids.get(key)
        if (cached) return cached
        const set = yield* sampler.gridSet(task, references.gridSeed, references.gridSize)
        const result = yield* Effect.sync(() => gridSearch(shape, set, references)).pipe(
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
