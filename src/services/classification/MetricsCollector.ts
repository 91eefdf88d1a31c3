/**
 * Metric collection at an evaluation point: the model's performance on the frozen evaluation set, its GD reference at
 * the parameters read off its weights and at the grid optimum, and the alignment of the model with both. The
 * predictions (logits and Jacobians of every context) are shared with `helpers` worker threads (EvaluationPool), with
 * the same results for any number of them.
 */
import { Effect } from "effect"
import type { ExtractedParameters } from "../../domain/classification/Extraction.js"
import { referenceShapeOf } from "../../domain/classification/Extraction.js"
import type { ReferenceParams, ReferenceShape } from "../../domain/classification/GdMath.js"
import {
  type Alignment,
  alignment,
  type PerContext,
  perContext,
  type Performance,
  performance,
  type Predictions
} from "../../domain/classification/Metrics.js"
import type { ModelSpec, Weights } from "../../domain/classification/Model.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import { makeEvaluationPool } from "./EvaluationPool.js"
import { GdReference } from "./GdReference.js"

export interface Scored {
  readonly predictions: Predictions
  readonly stats: PerContext
  readonly performance: Performance
}

export interface EvaluationPoint {
  readonly step: number
  /** Mean training-batch loss over the steps since the previous evaluation point (null at step 0). */
  readonly trainLoss: number | null
  readonly model: Performance
  readonly extracted: ExtractedParameters
  readonly reference: {
    readonly kind: ExtractedParameters["reference"]
    readonly gridOptimum: ReferenceParams
    readonly atExtracted: Performance
    readonly atGridOptimum: Performance
    /** Kernel references: the grid optimum within the sign basin of the learned c_σ (selection or elimination). */
    readonly basin: "selection" | "elimination" | null
    readonly atBasinOptimum: Performance | null
  }
  readonly alignment: {
    readonly atExtracted: Alignment
    readonly atGridOptimum: Alignment
    readonly atBasinOptimum: Alignment | null
  }
}

/** A reference scored at the grid optimum of each sign basin of c_σ (kernel references only). */
export interface BasinOptima {
  readonly selection: Scored | undefined
  readonly elimination: Scored | undefined
}

export interface Evaluation {
  readonly point: EvaluationPoint
  readonly model: Scored
  readonly atExtracted: Scored
}

const score = (predictions: Predictions, set: TaskBatch): Scored => {
  const stats = perContext(predictions.logits, set.queryLabel, set.C)
  return { predictions, stats, performance: performance(stats) }
}

export class MetricsCollector extends Effect.Service<MetricsCollector>()("icl-gd/MetricsCollector", {
  scoped: Effect.gen(function* () {
    const references = yield* GdReference
    const pool = yield* makeEvaluationPool

    /**
     * A reference at fixed parameters, scored on a set (e.g. at its grid optimum, once a run); `helpers` worker
     * threads share the predictions.
     */
    const scoreReference = (shape: ReferenceShape, params: ReferenceParams, set: TaskBatch, helpers = 0) =>
      pool.predict({ kind: "reference", shape, params }, set, helpers).pipe(Effect.map((p) => score(p, set)))

    const scoreModel = (spec: ModelSpec, weights: Weights, set: TaskBatch, helpers = 0) =>
      pool.predict({ kind: "model", spec, weights }, set, helpers).pipe(Effect.map((p) => score(p, set)))

    const evaluate = (input: {
      readonly step: number
      readonly trainLoss: number | null
      readonly spec: ModelSpec
      readonly weights: Weights
      readonly initial: Weights
      readonly set: TaskBatch
      readonly gridParams: ReferenceParams
      readonly atGridOptimum: Scored
      readonly basinOptima?: BasinOptima
      /** Worker threads that share the predictions (0: this thread alone). */
      readonly helpers?: number
    }) =>
      Effect.gen(function* () {
        const { spec, set } = input
        const helpers = input.helpers ?? 0
        const model = yield* scoreModel(spec, input.weights, set, helpers)
        const extracted = yield* references.extract(spec, input.weights, set.n, input.initial)
        const atExtracted = yield* scoreReference(referenceShapeOf(spec), extracted.params, set, helpers)
        const align = (ref: Scored) => alignment(model.predictions, model.stats, ref.predictions, ref.stats, spec.C, spec.d)
        const basin = extracted.cSigma === null || input.basinOptima === undefined ? null : extracted.cSigma > 0 ? "selection" : "elimination"
        const atBasin = basin === null ? undefined : input.basinOptima?.[basin]
        const alignGrid = align(input.atGridOptimum)
        const point: EvaluationPoint = {
          step: input.step,
          trainLoss: input.trainLoss,
          model: model.performance,
          extracted,
          reference: {
            kind: extracted.reference,
            gridOptimum: input.gridParams,
            atExtracted: atExtracted.performance,
            atGridOptimum: input.atGridOptimum.performance,
            basin: atBasin === undefined ? null : basin,
            atBasinOptimum: atBasin?.performance ?? null
          },
          alignment: {
            atExtracted: align(atExtracted),
            atGridOptimum: alignGrid,
            atBasinOptimum: atBasin === undefined ? null : atBasin === input.atGridOptimum ? alignGrid : align(atBasin)
          }
        }
        return { point, model, atExtracted } satisfies Evaluation
      })

    return { scoreReference, scoreModel, evaluate } as const
  }),
  dependencies: [GdReference.Default]
}) {}
