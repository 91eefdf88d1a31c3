/**
 * Out-of-distribution evaluation of a stored run, without retraining (spec §6 E9): the trained model and its GD
 * reference, at the parameters read off its weights and at its grid optimum, on evaluation sets drawn from shifted
 * task distributions (input norms scaled, another class noise, imbalanced contexts, the query's class absent from the
 * context, fewer classes present than C). Each number carries its standard error over the set's contexts, and the
 * model − reference gaps are paired on the same contexts.
 */
import { Effect, Option } from "effect"
import { type EvaluationShift, NO_SHIFT, type TaskConfig } from "../../domain/classification/Config.js"
import { StoreError } from "../../domain/Errors.js"
import { referenceShapeOf } from "../../domain/classification/Extraction.js"
import type { ReferenceParams } from "../../domain/classification/GdMath.js"
import {
  alignment,
  type PairedDifferences,
  pairedDifferences,
  type Performance,
  standardErrors
} from "../../domain/classification/Metrics.js"
import { modelSpecOf } from "../../domain/classification/Model.js"
import { GdReference } from "../../services/classification/GdReference.js"
import { MetricsCollector } from "../../services/classification/MetricsCollector.js"
import { RunStore } from "../../services/RunStore.js"
import { TaskSampler } from "../../services/classification/TaskSampler.js"
import { loadRun } from "./LoadRun.js"
import type { RunSummary } from "./Run.js"

export interface NamedShift {
  /** A short human label ("inputs ×2", "query's class absent"). */
  readonly name: string
  readonly shift: EvaluationShift
}

/**
 * The shifts of spec §6 E9 around a run's task: none (the reference point), input norms × 0.5 and × 2, half and twice
 * the class noise (0.25 and 0.5 when the task has none), imbalanced contexts (ρ = 10), the query's class absent, and
 * ⌊C/2⌋ classes present. The voronoi family has no class noise or class composition to shift: input norms only.
 */
export const standardShifts = (task: TaskConfig): ReadonlyArray<NamedShift> => {
  const scales: Array<NamedShift> = [
    { name: "in distribution", shift: NO_SHIFT },
    { name: "inputs ×0.5", shift: { ...NO_SHIFT, inputScale: 0.5 } },
    { name: "inputs ×2", shift: { ...NO_SHIFT, inputScale: 2 } }
  ]
  if (task.family !== "cluster") return scales
  const [lower, higher] = task.noise > 0 ? [task.noise / 2, task.noise * 2] : [0.25, 0.5]
  const present = Math.max(1, Math.floor(task.C / 2))
  return [
    ...scales,
    { name: `noise ${lower}`, shift: { ...NO_SHIFT, noise: lower } },
    { name: `noise ${higher}`, shift: { ...NO_SHIFT, noise: higher } },
    { name: "imbalanced (ρ = 10)", shift: { ...NO_SHIFT, imbalance: 10 } },
    { name: "query's class absent", shift: { ...NO_SHIFT, queryClass: "absent" } },
    { name: `${present} of ${task.C} classes present`, shift: { ...NO_SHIFT, contextClasses: present } }
  ]
}

export interface ShiftResult {
  readonly name: string
  readonly shift: EvaluationShift
  /** Contexts in the shifted set. */
  readonly contexts: number
  readonly model: Performance
  readonly modelSe: Performance
  /** The matching reference at the parameters read off the weights. */
  readonly atExtracted: Performance
  readonly atExtractedSe: Performance
  /** The matching reference at its grid optimum (found on the in-distribution grid-search set). */
  readonly atGridOptimum: Performance
  readonly atGridOptimumSe: Performance
  readonly modelMinusExtracted: PairedDifferences
  readonly modelMinusGrid: PairedDifferences
  /** model cos with the reference at the extracted parameters. */
  readonly modelCos: number
}

/**
 * Evaluates a finished run on each shifted evaluation set: `setSize` tasks (default: the run's evaluation size) drawn
 * with the run's evaluation seed, so every run of a sweep meets the same shifted tasks.
 */
export const evaluateShifts = (runDir: string, shifts?: ReadonlyArray<NamedShift>, setSize?: number) =>
  Effect.gen(function* () {
    const run = yield* loadRun(runDir)
    const store = yield* RunStore
    const sampler = yield* TaskSampler
    const references = yield* GdReference
    const metrics = yield* MetricsCollector
    const summaryPath = store.join(runDir, "summary.json")
    const summary = Option.getOrUndefined(yield* store.readJson(summaryPath)) as RunSummary | undefined
    if (summary === undefined) {
      return yield* new StoreError({ reason: "ReadFailed", path: summaryPath, detail: "no such file (has the run finished?)" })
    }
    const { config } = run
    const spec = modelSpecOf(config)
    const shape = referenceShapeOf(spec)
    const grid = summary.references[shape.kind]
    if (grid === undefined) {
      return yield* new StoreError({ reason: "Corrupt", path: summaryPath, detail: `no grid optimum of ${shape.kind}` })
    }
    const gridParams: ReferenceParams = { cSigma: grid.best.cSigma, scale: grid.best.scale }
    const extracted = yield* references.extract(spec, run.weights, config.task.n)
    return yield* Effect.forEach(shifts ?? standardShifts(config.task), ({ name, shift }) =>
      Effect.gen(function* () {
        const set = yield* sampler.freshSet("evaluation", config.task, config.evaluation.seed, setSize ?? config.evaluation.size, shift)
        const model = yield* metrics.scoreModel(spec, run.weights, set)
        const atExtracted = yield* metrics.scoreReference(shape, extracted.params, set)
        const atGrid = yield* metrics.scoreReference(shape, gridParams, set)
        return {
          name,
          shift,
          contexts: set.size,
          model: model.performance,
          modelSe: standardErrors(model.stats),
          atExtracted: atExtracted.performance,
          atExtractedSe: standardErrors(atExtracted.stats),
          atGridOptimum: atGrid.performance,
          atGridOptimumSe: standardErrors(atGrid.stats),
          modelMinusExtracted: pairedDifferences(model.stats, atExtracted.stats),
          modelMinusGrid: pairedDifferences(model.stats, atGrid.stats),
          modelCos: alignment(model.predictions, model.stats, atExtracted.predictions, atExtracted.stats, spec.C, spec.d).modelCos
        } satisfies ShiftResult
      })
    )
  })
