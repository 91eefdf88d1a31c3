/**
 * One run, end to end: grid-optimal GD references on the grid-search set, training with Adam on fresh batches,
 * evaluation against the matching GD reference at each evaluation point, and the run's files:
 *   config.json       the resolved config
 *   metrics.jsonl     one evaluation point per line (deterministic: a function of the config alone)
 *   per-context.csv   final per-context loss, p(correct) and entropy of the model and its reference
 *   weights.json      final and initial W_KQ, W_PV
 *   references.json   grid results of every reference, loss landscapes included
 *   summary.json      final metrics, learned parameters and solution kind, grid-optimal references
 *   run.json          how it ran: engine, backend, wall times (the only file that varies between identical runs)
 *   run.log           JSON-lines log
 *   checkpoint.json   the last checkpoint (and checkpoint.prev.json, the one before), to resume an interrupted run
 */
import { Effect, Fiber, Option } from "effect"
import { decodeCheckpoint, encodeCheckpoint } from "../../domain/classification/Checkpoint.js"
import type { ExperimentConfig } from "../../domain/classification/Config.js"
import { evaluationSteps } from "../../domain/EvaluationSchedule.js"
import { csvNumber, matrixRows } from "../../domain/Results.js"
import { referenceShapeOf } from "../../domain/classification/Extraction.js"
import type { ReferenceKind, ReferenceShape } from "../../domain/classification/GdMath.js"
import type { GridResult } from "../../domain/classification/GridSearch.js"
import type { Performance } from "../../domain/classification/Metrics.js"
import type { Weights } from "../../domain/classification/Model.js"
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
import { inRunFolder, readCheckpoint, type RunFolderOptions, type RunOutcome } from "../RunFolder.js"
import { type BatchSource, makePhaseClock, selfSampledSteps, trainingLoop, writeRunRecord } from "../TrainingLoop.js"

export interface ReferenceSummary {
  readonly kind: ReferenceKind
  readonly best: GridResult["best"]
  readonly selection: GridResult["selection"]
  readonly elimination: GridResult["elimination"]
  /** Performance at the grid optimum on the evaluation set. */
  readonly evaluation: Performance
}

export interface RunSummary {
  readonly runId: string
  readonly name: string
  readonly seed: number
  readonly attention: ExperimentConfig["model"]["attention"]
  readonly task: ExperimentConfig["task"]
  readonly steps: number
  readonly engine: EngineInfo
  readonly final: EvaluationPoint
  readonly references: Readonly<Record<ReferenceKind, ReferenceSummary>>
}

export type RunResult = RunOutcome<RunSummary>

const REFERENCE_KINDS: ReadonlyArray<ReferenceKind> = ["gd-linear", "kgd-fixed", "ca-kgd"]

const weightsJson = (w: Weights) => ({ W_KQ: matrixRows(w.kq, w.D), W_PV: matrixRows(w.pv, w.D) })

const perContextCsv = (labels: Int32Array, model: Scored, atExtracted: Scored, atGrid: Scored): string => {
  const header = [
    "context",
    "label",
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
    lines.push([String(t), String(labels[t]), ...cells.map(csvNumber)].join(","))
  }
  return `${lines.join("\n")}\n`
}

/** The shape of each reference as this model's config implies (ca-kgd shares softmax attention's key mask). */
const shapeFor = (kind: ReferenceKind, matching: ReferenceShape): ReferenceShape => ({
  kind,
  D: matching.D,
  selfAttend: kind === "ca-kgd" && matching.kind === "ca-kgd" && matching.selfAttend
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
    const checkpoint = yield* readCheckpoint(file, decodeCheckpoint)
    yield* Effect.logInfo(
      Option.isSome(checkpoint)
        ? `resuming ${spec.attention} attention from step ${checkpoint.value.step}`
        : `training ${spec.attention} attention`
    ).pipe(
      Effect.annotateLogs({
        engine: session.engine.engine,
        backend: session.engine.backend ?? "none",
        d: spec.d,
        C: spec.C,
        n: config.task.n,
        steps: config.training.steps
      })
    )
    const evalSet = yield* sampler.evaluationSet(config.task, config.evaluation.seed, config.evaluation.size)

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
        evaluation: scored.performance
      }
    }
    const gridReference = found.get(matching.kind)!.scored
    const gridParams = { cSigma: grids[matching.kind].best.cSigma, scale: grids[matching.kind].best.scale }
    // The grid optimum of each basin, to compare a model with the best GD step of the kind of solution it learned.
    // The basin holding the global optimum reuses its scores.
    const scoreBasin = (point: GridResult["selection"]) =>
      point === null
        ? Effect.succeed(undefined)
        : point === grids[matching.kind].best
          ? Effect.succeed(gridReference)
          : timed("references", metrics.scoreReference(matching, point, evalSet))
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
          basinOptima
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
      yieldEvery: 64,
      batches,
      step
    })
    // The fused engine samples each step's batch itself, in chunks shared with its worker threads; other engines take
    // batches sampled ahead by the sampler's threads.
    const { rows, last: lastEvaluation } = yield* Option.match(session.trainingSteps, {
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
    const last = lastEvaluation ?? (yield* evaluateAt(config.training.steps, null))
    const final = JSON.parse(rows[rows.length - 1]!) as EvaluationPoint
    if (config.output.perContext) {
      yield* store.writeText(
        file("per-context.csv"),
        perContextCsv(evalSet.queryLabel, last.model, last.atExtracted, gridReference)
      )
    }
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
      engine: session.engine,
      final,
      references: referenceSummaries
    }
    const wallSeconds = yield* writeRunRecord(file, {
      runId,
      engine: session.engine,
      startedAt,
      resumedFromStep: Option.isSome(checkpoint) ? checkpoint.value.step : null,
      clock
    })
    // summary.json is written last: its presence marks the run as finished.
    yield* store.writeJson(file("summary.json"), summary)
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
