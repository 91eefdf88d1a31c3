/**
 * A trained run evaluated at context lengths other than the one it was trained on, next to its GD reference at the
 * parameters read off its weights (spec §6 E6b).
 */
import { Effect } from "effect"
import { referenceShapeOf } from "../../domain/classification/Extraction.js"
import { modelSpecOf } from "../../domain/classification/Model.js"
import { GdReference } from "../../services/classification/GdReference.js"
import { MetricsCollector } from "../../services/classification/MetricsCollector.js"
import { TaskSampler } from "../../services/classification/TaskSampler.js"
import { loadRun } from "./LoadRun.js"

export interface ContextLengthRow {
  readonly n: number
  readonly modelLoss: number
  readonly referenceLoss: number
  readonly modelAccuracy: number
  readonly referenceAccuracy: number
  readonly modelCos: number
}

/** On frozen evaluation sets of `setSize` tasks (default: the run's evaluation size) at each context length. */
export const evaluateAtContextLengths = (runDir: string, lengths: ReadonlyArray<number>, setSize?: number) =>
  Effect.gen(function* () {
    const run = yield* loadRun(runDir)
    const sampler = yield* TaskSampler
    const references = yield* GdReference
    const metrics = yield* MetricsCollector
    const spec = modelSpecOf(run.config)
    return yield* Effect.forEach(lengths, (n) =>
      Effect.gen(function* () {
        const task = { ...run.config.task, n }
        const set = yield* sampler.evaluationSet(task, run.config.evaluation.seed, setSize ?? run.config.evaluation.size)
        // The weights do not change with n, but c_η = n·b does: read the parameters off at this n.
        const extracted = yield* references.extract(spec, run.weights, n)
        const reference = yield* metrics.scoreReference(referenceShapeOf(spec), extracted.params, set)
        const { point } = yield* metrics.evaluate({
          step: 0,
          trainLoss: null,
          spec,
          weights: run.weights,
          initial: run.initial,
          set,
          gridParams: extracted.params,
          atGridOptimum: reference
        })
        return {
          n,
          modelLoss: point.model.loss,
          referenceLoss: point.reference.atExtracted.loss,
          modelAccuracy: point.model.accuracy,
          referenceAccuracy: point.reference.atExtracted.accuracy,
          modelCos: point.alignment.atExtracted.modelCos
        } satisfies ContextLengthRow
      })
    )
  })
