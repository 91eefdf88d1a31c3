/**
 * One run, end to end: grid-optimal GD references on the grid-search set, training with Adam on fresh batches,
 * evaluation against the matching GD reference at each evaluation point, and the run's files:
 *   config.json       the resolved config
 *   metrics.jsonl     one evaluation point per line (deterministic: a function of the config alone)
 *   per-context.csv   final per-context loss, p(correct) and entropy of the model and its reference, with what each
 *                     context offers its query (same-class count, mean similarity, effective step)
 *   weights.json      final and initial W_KQ, W_PV
 *   references.json   grid results of every reference, loss landscapes included
 *   summary.json      final metrics with their standard errors over contexts (and paired model − reference
 *                     differences), learned parameters and solution kind, grid-optimal references, and the scores on
 *                     the extra evaluation sets of evaluation.seeds
 *   run.json          how it ran: engine, backend, wall times (the only file that varies between identical runs)
 *   run.log           JSON-lines log
 *   digests.json      SHA-256 of each file above, written just before summary.json (programs/RunIntegrity)
 *   checkpoint.json   the last checkpoint (and checkpoint.prev.json, the one before), to resume an interrupted run
 */
import { Effect, Fiber, Option } from "effect"
import { basinDecidedAt, type Decision, decisionOf, earlyStopRule, type TrajectoryPoint } from "../../domain/classification/Basins.js"
import { decodeCheckpoint, encodeCheckpoint } from "../../domain/classification/Checkpoint.js"
import type { ExperimentConfig } from "../../domain/classification/Config.js"
import { evaluationSteps } from "../../domain/EvaluationSchedule.js"
import { csvNumber, matrixRows } from "../../domain/Results.js"
import { referenceShapeOf } from "../../domain/classification/Extraction.js"
import type { ReferenceKind, ReferenceParams, ReferenceShape } from "../../domain/classification/GdMath.js"
import type { GridResult } from "../../domain/classification/GridSearch.js"
import { contextFeatures, effectiveSteps } from "../../domain/classification/ContextFeatures.js"
import { type PairedDifferences, pairedDifferences, type Performance, standardErrors } from "../../domain/classification/Metrics.js"
import { type Spread, spreadOf } from "../../domain/Results.js"
import type { ModelSpec, Weights } from "../../domain/classification/Model.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import { GdReference } from "../../services/classification/GdReference.js"
import {
  type BasinOptima,
  type EvaluationPoint,
  MetricsCollector,
  type Scored
} from "../../services/classification/MetricsCollector.js"
import type { EngineInfo } from "../../services/EngineInfo.js"
import { ModelTrainer } from "../../services/classification/ModelTrainer.js"
import { RunStore } from "../../services/RunStore.js"
import { TaskSampler } from "../../services/classification/TaskSampler.js"
import { sealRun } from "../RunIntegrity.js"
import { inRunFolder, readCheckpoint, type RunFolderOptions, type RunOutcome } from "../RunFolder.js"
import { type BatchSource, makePhaseClock, selfSampledSteps, trainingLoop, writeRunRecord } from "../TrainingLoop.js"

export interface ReferenceSummary {
  readonly kind: ReferenceKind
  readonly best: GridResult["best"]
  readonly selection: GridResult["selection"]
  readonly elimination: GridResult["elimination"]
  /** Performance at the grid optimum on the evaluation set. */
  readonly evaluation: Performance
  /** The standard error over evaluation contexts of each metric of `evaluation` (absent in results of older versions). */
  readonly evaluationSe?: Performance
}

/** The final evaluation point's uncertainty over the evaluation contexts. */
export interface Uncertainty {
  /** Evaluation contexts N (each standard error is a sample standard deviation / √N). */
  readonly contexts: number
  /** Standard errors of the model's final metrics. */
  readonly model: Performance
  /** Standard errors of the matching reference's metrics at the extracted parameters, the grid optimum, the basin's. */
  readonly reference: {
    readonly atExtracted: Performance
    readonly atGridOptimum: Performance
    readonly atBasinOptimum: Performance | null
  }
  /** Model minus reference, per context on the same contexts: mean and standard error of the differences. */
  readonly modelMinusReference: {
    readonly atExtracted: PairedDifferences
    readonly atGridOptimum: PairedDifferences
    readonly atBasinOptimum: PairedDifferences | null
  }
}

/** The final model and every reference scored on one evaluation set. */
export interface EvaluationSetScores {
  readonly seed: number
  readonly model: Performance
  readonly modelSe: Performance
  /** The matching reference at the model's extracted parameters. */
  readonly atExtracted: Performance
  /** Every reference at its grid optimum. */
  readonly references: Readonly<Record<ReferenceKind, Performance>>
  /** Model minus the matching reference at its grid optimum, paired on this set's contexts. */
  readonly modelMinusGrid: PairedDifferences
}

/** Scores on the main evaluation set and the extra ones of evaluation.seeds, and how much each loss moves across them. */
export interface EvaluationSets {
  readonly sets: ReadonlyArray<EvaluationSetScores>
  /** Spread across the sets of the model's loss, the matching reference's at the extracted parameters, and each reference's. */
  readonly lossSpread: { readonly model: Spread; readonly atExtracted: Spread; readonly references: Readonly<Record<ReferenceKind, Spread>> }
}

export interface RunSummary {
  readonly runId: string
  readonly name: string
  readonly seed: number
  readonly attention: ExperimentConfig["model"]["attention"]
  readonly task: ExperimentConfig["task"]
  readonly steps: number
  /**
   * Set when the run stopped before `steps` because its basin was decided (config earlyStop): `final` is then the
   * evaluation at that step, not after the full training. Absent for runs that trained every step.
   */
  readonly stoppedEarly?: { readonly step: number; readonly rule: string }
  /** Kernel models: when the sign of c_σ was decided along the evaluation points (domain/classification/Basins). */
  readonly basinDecision?: Decision | null
  readonly engine: EngineInfo
  readonly final: EvaluationPoint
  /** Standard errors of the final point's metrics (absent in results of older versions). */
  readonly uncertainty?: Uncertainty
  /** The grid-optimal references; ca-gd-linear is absent in results of older versions. */
  readonly references: Readonly<Record<Exclude<ReferenceKind, "ca-gd-linear">, ReferenceSummary>> & {
    readonly "ca-gd-linear"?: ReferenceSummary
  }
  /** Only with evaluation.seeds: the final model and references on each evaluation set. */
  readonly evaluationSets?: EvaluationSets
}

export type RunResult = RunOutcome<RunSummary>

export const REFERENCE_KINDS: ReadonlyArray<ReferenceKind> = ["gd-linear", "kgd-fixed", "ca-kgd", "ca-gd-linear"]

const weightsJson = (w: Weights) => ({ W_KQ: matrixRows(w.kq, w.D), W_PV: matrixRows(w.pv, w.D) })

/**
 * per-context.csv: each context's label and what it offers its query (same-class count, mean similarity, and for
 * softmax attention the effective step c_η/Σ_j k_j at the extracted parameters), then loss, p(correct) and entropy of
 * the model, its reference at the extracted parameters and at the grid optimum.
 */
const perContextCsv = (set: TaskBatch, steps: Float64Array | undefined, model: Scored, atExtracted: Scored, atGrid: Scored): string => {
  const labels = set.queryLabel
  const features = contextFeatures(set)
  const header = [
    "context",
    "label",
    "same_class",
    "similarity",
    "effective_step",
    "model_loss",
    "model_p_correct",
    "model_entropy",
    "extracted_loss",
    "extracted_p_correct",
    "extracted_entropy",
    "grid_loss",
    "grid_p_correct",
    "grid_entropy"
  ].join(",")
  const lines = [header]
  for (let t = 0; t < labels.length; t++) {
    const cells = [model, atExtracted, atGrid].flatMap((s) => [s.stats.loss[t]!, s.stats.pCorrect[t]!, s.stats.entropy[t]!])
    lines.push(
      [
        String(t),
        String(labels[t]),
        String(features.sameClass[t]),
        csvNumber(features.similarity[t]!),
        steps === undefined ? "" : csvNumber(steps[t]!),
        ...cells.map(csvNumber)
      ].join(",")
    )
  }
  return `${lines.join("\n")}\n`
}

/** The c_σ read off the weights at each evaluation point (metrics.jsonl rows). */
const trajectoryOf = (rows: ReadonlyArray<string>): Array<TrajectoryPoint> =>
  rows.map((row) => {
    const point = JSON.parse(row) as EvaluationPoint
    return { step: point.step, cSigma: point.extracted.cSigma ?? Number.NaN }
  })

/** The shape of each reference as this model's config implies (the normalised ones share softmax attention's key mask). */
const shapeFor = (kind: ReferenceKind, matching: ReferenceShape): ReferenceShape => ({
  kind,
  D: matching.D,
  selfAttend: (kind === "ca-kgd" || kind === "ca-gd-linear") && matching.kind === "ca-kgd" && matching.selfAttend
})

/**
 * Trains one run to its end. A finished run (summary.json present) is returned as stored; a partial run continues
 * from its last good checkpoint and ends with the same files an uninterrupted run would have written.
 */
export const trainRun = (config: ExperimentConfig, options: RunFolderOptions = {}) =>
  inRunFolder(config, options, (runId, file) => executeRun(config, runId, file))

const executeRun = (config: ExperimentConfig, runId: string, file: (name: string) => string) =>
  Effect.scoped(Effect.gen(function* () {
    const store = yield* RunStore
    const sampler = yield* TaskSampler
    const trainer = yield* ModelTrainer
    const references = yield* GdReference
    const metrics = yield* MetricsCollector
    const startedAt = new Date()
    const phases = makePhaseClock()
    const { clock, timed } = phases

    const session = yield* trainer.open(config)
    const { spec } = session
    const checkpoint = yield* readCheckpoint(file, decodeCheckpoint, runId)
    yield* Effect.logInfo(
      Option.isSome(checkpoint)
        ? `resuming ${spec.attention} attention from step ${checkpoint.value.step}`
        : `training ${spec.attention} attention`
    ).pipe(
      Effect.annotateLogs({
        engine: session.engine.engine,
        backend: session.engine.backend ?? "none",
        ...(session.kernel === null ? {} : { kernel: session.kernel }),
        d: spec.d,
        C: spec.C,
        n: config.task.n,
        steps: config.training.steps
      })
    )
    const evalSet = yield* sampler.evaluationSet(config.task, config.evaluation.seed, config.evaluation.size, config.evaluation.shift)

    const matching = referenceShapeOf(spec)
    const referenceSummaries = {} as Record<ReferenceKind, ReferenceSummary>
    const grids = {} as Record<ReferenceKind, GridResult>
    const found = new Map<ReferenceKind, { readonly grid: GridResult; readonly scored: Scored }>()
    // With a core to spare, a kernel reference that the model does not match searches its grid on a worker thread
    // while this thread searches the others; it is scored last, once this thread is free.
    const onWorker =
      config.runtime.samplerThreads > 0 ? REFERENCE_KINDS.find((kind) => kind !== "gd-linear" && kind !== matching.kind) : undefined
    const order = [...REFERENCE_KINDS.filter((kind) => kind !== onWorker), ...(onWorker === undefined ? [] : [onWorker])]
    yield* timed(
      "references",
      Effect.gen(function* () {
        const searches = new Map<ReferenceKind, Effect.Effect<GridResult>>()
        if (onWorker !== undefined) {
          const search = yield* Effect.fork(references.gridOptimum(config.task, config.references, shapeFor(onWorker, matching), true))
          // Let the forked search start its thread before this one turns to its own long synchronous searches.
          yield* Effect.yieldNow()
          searches.set(onWorker, Fiber.join(search))
        }
        yield* Effect.forEach(order, (kind) =>
          Effect.gen(function* () {
            const shape = shapeFor(kind, matching)
            const grid = yield* (searches.get(kind) ?? references.gridOptimum(config.task, config.references, shape))
            const scored = yield* metrics.scoreReference(shape, grid.best, evalSet)
            found.set(kind, { grid, scored })
            yield* Effect.logDebug(`grid-optimal ${kind}`).pipe(
              Effect.annotateLogs({ cSigma: grid.best.cSigma, scale: grid.best.scale, evalLoss: scored.performance.loss })
            )
          })
        )
      })
    )
    // In the fixed order of the kinds, whichever thread finished first: the files are the same either way.
    for (const kind of REFERENCE_KINDS) {
      const { grid, scored } = found.get(kind)!
      grids[kind] = grid
      referenceSummaries[kind] = {
        kind,
        best: grid.best,
        selection: grid.selection,
        elimination: grid.elimination,
        evaluation: scored.performance,
        evaluationSe: standardErrors(scored.stats)
      }
    }
    // Early stopping: the trajectory of c_σ in the metrics rows so far.
    const basinDecidedIn = (stored: ReadonlyArray<string>) => basinDecidedAt(trajectoryOf(stored), config.earlyStop)
    const gridReference = found.get(matching.kind)!.scored
    const gridParams = { cSigma: grids[matching.kind].best.cSigma, scale: grids[matching.kind].best.scale }
    // From here on, predictions on the evaluation set are shared with the run's helper threads (the grid searches'
    // thread is done): an evaluation point uses every core.
    const helpers = config.runtime.samplerThreads
    // The grid optimum of each basin, to compare a model with the best GD step of the kind of solution it learned.
    // The basin holding the global optimum reuses its scores.
    const scoreBasin = (point: GridResult["selection"]) =>
      point === null
        ? Effect.succeed(undefined)
        : point === grids[matching.kind].best
          ? Effect.succeed(gridReference)
          : timed("references", metrics.scoreReference(matching, point, evalSet, helpers))
    const basinOptima: BasinOptima = {
      selection: yield* scoreBasin(grids[matching.kind].selection),
      elimination: yield* scoreBasin(grids[matching.kind].elimination)
    }
    yield* store.writeJson(file("references.json"), grids)

    const evaluateAt = (step: number, trainLoss: number | null) =>
      timed(
        "evaluation",
        metrics.evaluate({
          step,
          trainLoss,
          spec,
          weights: session.weights,
          initial: session.initial,
          set: evalSet,
          gridParams,
          atGridOptimum: gridReference,
          basinOptima,
          helpers
        })
      )
    if (Option.isSome(checkpoint)) session.restore(checkpoint.value.weights, checkpoint.value.optimizer)
    const train = <B, E2, R2>(batches: (first: number) => Effect.Effect<BatchSource<B>, E2, R2>, step: (batch: B) => number) =>
      trainingLoop({
      runId,
      file,
      steps: config.training.steps,
      schedule: new Set(evaluationSteps(config.training.steps, config.evaluation.every, config.evaluation.logSpacedPoints)),
      checkpointEvery: config.runtime.checkpointEvery,
      progress: config.output.progress,
      phases,
      resumed: checkpoint,
      evaluate: evaluateAt,
      logEvaluation: (step, trainLoss, { point }) =>
        Effect.logDebug("evaluation").pipe(
          Effect.annotateLogs({
            step,
            trainLoss,
            evalLoss: point.model.loss,
            referenceLoss: point.reference.atExtracted.loss,
            modelCos: point.alignment.atExtracted.modelCos
          })
        ),
      checkpoint: (position) => encodeCheckpoint({ ...position, weights: session.weights, optimizer: session.optimizer }),
      batches,
      step,
      ...(config.earlyStop.basinDecided ? { stopAfter: basinDecidedIn } : {})
    })
    // The fused engine samples each step's batch itself, in chunks shared with its worker threads; other engines take
    // batches sampled ahead by the sampler's threads.
    const { rows, last: lastEvaluation, finalStep, stoppedAt } = yield* Option.match(session.trainingSteps, {
      onSome: (open) =>
        train(
          (first) =>
            open(config.task, config.seed, config.training.batchSize, config.runtime.samplerThreads).pipe(
              Effect.map((stepAt) => selfSampledSteps(first, stepAt))
            ),
          (takeStep) => takeStep()
        ),
      onNone: () =>
        train(
          (first) =>
            sampler.stream(config.task, config.seed, config.training.batchSize, first, config.training.steps, config.runtime.samplerThreads),
          session.stepNow
        )
    })

    // A run resumed from its final checkpoint has not evaluated in this process: the last row is recomputed.
    const last = lastEvaluation ?? (yield* evaluateAt(finalStep, null))
    const final = JSON.parse(rows[rows.length - 1]!) as EvaluationPoint
    const basin = last.point.reference.basin
    const atBasin = basin === null ? undefined : basinOptima[basin]
    const uncertainty: Uncertainty = {
      contexts: evalSet.size,
      model: standardErrors(last.model.stats),
      reference: {
        atExtracted: standardErrors(last.atExtracted.stats),
        atGridOptimum: standardErrors(gridReference.stats),
        atBasinOptimum: atBasin === undefined ? null : standardErrors(atBasin.stats)
      },
      modelMinusReference: {
        atExtracted: pairedDifferences(last.model.stats, last.atExtracted.stats),
        atGridOptimum: pairedDifferences(last.model.stats, gridReference.stats),
        atBasinOptimum: atBasin === undefined ? null : pairedDifferences(last.model.stats, atBasin.stats)
      }
    }
    if (config.output.perContext) {
      const steps = matching.kind === "ca-kgd" ? effectiveSteps(matching, last.point.extracted.params, evalSet) : undefined
      yield* store.writeText(file("per-context.csv"), perContextCsv(evalSet, steps, last.model, last.atExtracted, gridReference))
    }
    const evaluationSets =
      config.evaluation.seeds.length === 0
        ? undefined
        : yield* timed(
            "evaluation",
            scoreOnSets(config, spec, session.weights, last.point.extracted.params, matching, grids, {
              seed: config.evaluation.seed,
              set: evalSet,
              model: last.model,
              atExtracted: last.atExtracted,
              references: Object.fromEntries(REFERENCE_KINDS.map((kind) => [kind, found.get(kind)!.scored])) as Record<ReferenceKind, Scored>
            })
          )
    yield* store.writeJson(file("weights.json"), {
      D: session.weights.D,
      d: spec.d,
      C: spec.C,
      attention: spec.attention,
      final: weightsJson(session.weights),
      initial: weightsJson(session.initial)
    })
    const summary: RunSummary = {
      runId,
      name: config.name,
      seed: config.seed,
      attention: spec.attention,
      task: config.task,
      steps: config.training.steps,
      ...(stoppedAt === null ? {} : { stoppedEarly: { step: stoppedAt, rule: earlyStopRule(config.earlyStop) } }),
      ...(final.extracted.cSigma === null ? {} : { basinDecision: decisionOf(trajectoryOf(rows)) }),
      engine: session.engine,
      final,
      uncertainty,
      references: referenceSummaries,
      ...(evaluationSets === undefined ? {} : { evaluationSets })
    }
    const wallSeconds = yield* writeRunRecord(file, {
      runId,
      engine: session.engine,
      kernel: session.kernel,
      startedAt,
      resumedFromStep: Option.isSome(checkpoint) ? checkpoint.value.step : null,
      clock
    })
    // summary.json is written last: its presence marks the run as finished.
    yield* sealRun(file, runId, summary)
    yield* Effect.logInfo("run finished").pipe(
      Effect.annotateLogs({
        evalLoss: final.model.loss,
        referenceLoss: final.reference.atGridOptimum.loss,
        modelCos: final.alignment.atExtracted.modelCos,
        ...(final.extracted.solution ? { solution: final.extracted.solution } : {}),
        wallSeconds
      })
    )
    return summary
  }))

/** The scores of one set, with the set's matching reference at the grid optimum for the paired difference. */
interface SetScores {
  readonly seed: number
  readonly set: TaskBatch
  readonly model: Scored
  readonly atExtracted: Scored
  readonly references: Readonly<Record<ReferenceKind, Scored>>
}

/**
 * The final model, its reference at the extracted parameters and every reference at its grid optimum, on the main
 * evaluation set and on each set of evaluation.seeds (sampled once here, not kept in memory afterwards).
 */
const scoreOnSets = (
  config: ExperimentConfig,
  spec: ModelSpec,
  weights: Weights,
  extracted: ReferenceParams,
  matching: ReferenceShape,
  grids: Readonly<Record<ReferenceKind, GridResult>>,
  main: SetScores
) =>
  Effect.gen(function* () {
    const sampler = yield* TaskSampler
    const metrics = yield* MetricsCollector
    const extra = yield* Effect.forEach(config.evaluation.seeds, (seed) =>
      Effect.gen(function* () {
        const set = yield* sampler.freshSet("evaluation", config.task, seed, config.evaluation.size, config.evaluation.shift)
        const references = {} as Record<ReferenceKind, Scored>
        for (const kind of REFERENCE_KINDS) {
          references[kind] = yield* metrics.scoreReference(shapeFor(kind, matching), grids[kind].best, set)
        }
        return {
          seed,
          set,
          model: yield* metrics.scoreModel(spec, weights, set),
          atExtracted: yield* metrics.scoreReference(matching, extracted, set),
          references
        } satisfies SetScores
      })
    )
    const sets = [main, ...extra].map(
      (s): EvaluationSetScores => ({
        seed: s.seed,
        model: s.model.performance,
        modelSe: standardErrors(s.model.stats),
        atExtracted: s.atExtracted.performance,
        references: Object.fromEntries(REFERENCE_KINDS.map((kind) => [kind, s.references[kind].performance])) as Record<ReferenceKind, Performance>,
        modelMinusGrid: pairedDifferences(s.model.stats, s.references[matching.kind].stats)
      })
    )
    const lossSpread = {
      model: spreadOf(sets.map((s) => s.model.loss)),
      atExtracted: spreadOf(sets.map((s) => s.atExtracted.loss)),
      references: Object.fromEntries(REFERENCE_KINDS.map((kind) => [kind, spreadOf(sets.map((s) => s.references[kind].loss))])) as Record<
        ReferenceKind,
        Spread
      >
    }
    return { sets, lossSpread } satisfies EvaluationSets
  })
