/**
 * One regression run end to end (von Oswald et al.; Cheng et al.): grid-optimal references on the grid-search set,
 * training with Adam on fresh batches, evaluation against the references at each evaluation point, and the run's files,
 * named as for classification runs:
 *   config.json       the resolved config
 *   metrics.jsonl     one evaluation point per line (a function of the config alone)
 *   per-context.csv   final prediction per evaluation task: target, model, GD reference, Bayes
 *   weights.json      final and initial A_l, P_l of every layer
 *   references.json   every reference's parameters, grid scan and loss
 *   summary.json      final metrics, references, and the interpolation between trained and constructed weights
 *   run.json, run.log, checkpoint.json (+ .prev)   as for classification runs
 */
import { Effect, Option } from "effect"
import { decodeChecked, encodeChecked } from "../../domain/Checkpoint.js"
import { evaluationSteps } from "../../domain/EvaluationSchedule.js"
import { csvNumber, matrixRows } from "../../domain/Results.js"
import { type KernelGdFit, posteriorMean, scaleMatters } from "../../domain/regression/KernelGd.js"
import type { RegressionActivation, RegressionConfig } from "../../domain/regression/Config.js"
import { alignmentOf, type RegressionAlignment } from "../../domain/regression/Metrics.js"
import {
  constructedWeights,
  distinctLayers,
  extractSteps,
  offConstructionNorm,
  type Predictions,
  predictBatch,
  type RegressionSpec,
  squaredLoss,
  type StepParameters,
  tokenDim
} from "../../domain/regression/Model.js"
import { type RegressionBatch, sampleRegressionTasks } from "../../domain/regression/Task.js"
import type { EngineInfo } from "../../services/EngineInfo.js"
import { RegressionReferences } from "../../services/regression/References.js"
import { RegressionTrainer } from "../../services/regression/Trainer.js"
import { RunStore } from "../../services/RunStore.js"
import { inRunFolder, readCheckpoint, type RunFolderOptions, type RunOutcome } from "../RunFolder.js"
import { type BatchSource, type LoopPosition, makePhaseClock, trainingLoop, writeRunRecord } from "../TrainingLoop.js"

export interface ExtractedLayer extends StepParameters {
  /** s·η: the step size of plain GD for linear attention (only the product matters for linear and ReLU). */
  readonly effectiveEta: number
  /** Relative norm of the weights outside the construction's form (0 = exactly a GD layer). */
  readonly offConstruction: number
}

export interface RegressionPoint {
  readonly step: number
  readonly trainLoss: number | null
  readonly model: { readonly loss: number }
  readonly extracted: { readonly layers: ReadonlyArray<ExtractedLayer>; readonly loss: number }
  readonly alignment: {
    /** Against K-step (functional) GD with this activation at its grid optimum. */
    readonly gridOptimum: RegressionAlignment
    /** Against the same with the parameters read off the model's layers. */
    readonly extracted: RegressionAlignment
    /** Against the Bayes-optimal prediction (the posterior mean). */
    readonly bayes: RegressionAlignment
  }
}

export interface RegressionReferenceSummary {
  readonly description: string
  readonly parameters: Readonly<Record<string, number | ReadonlyArray<number>>>
  /** ½ mean squared error on the evaluation set. */
  readonly loss: number
}

export interface RegressionSummary {
  readonly kind: "regression"
  readonly runId: string
  readonly name: string
  readonly seed: number
  readonly task: RegressionConfig["task"]
  readonly model: Pick<RegressionConfig["model"], "attention" | "layers" | "recurrent">
  readonly steps: number
  readonly engine: EngineInfo
  readonly final: RegressionPoint
  /**
   * "gd": K-step (functional) GD with the model's kernel at the grid optimum; "gd++" (linear regression, 2+ layers);
   * "bayes": the posterior mean; "fgd-<activation>": K-step functional GD with each attention kernel (GP tasks).
   */
  readonly references: Readonly<Record<string, RegressionReferenceSummary>>
  /** Loss of (1 − α)·trained + α·constructed weights; the construction is the grid-optimal GD reference. */
  readonly interpolation: ReadonlyArray<{ readonly alpha: number; readonly loss: number }>
}

export type RegressionRunResult = RunOutcome<RegressionSummary>

const ACTIVATIONS: ReadonlyArray<RegressionActivation> = ["linear", "relu", "exp", "softmax"]

interface RegressionCheckpoint extends LoopPosition {
  readonly values: Float64Array
  readonly optimizer: { readonly step: number; readonly m: Float64Array; readonly v: Float64Array }
}

const encodeState = (state: RegressionCheckpoint): string =>
  encodeChecked({
    kind: "regression",
    step: state.step,
    values: Array.from(state.values),
    adam: { step: state.optimizer.step, m: Array.from(state.optimizer.m), v: Array.from(state.optimizer.v) },
    rows: state.rows,
    lossSum: state.lossSum,
    lossCount: state.lossCount,
    clock: state.clock
  })

const decodeState = (text: string): { readonly state: RegressionCheckpoint } | { readonly problem: string } => {
  const decoded = decodeChecked(text)
  if ("problem" in decoded) return decoded
  const p = decoded.payload as {
    kind?: string
    step: number
    values: Array<number>
    adam: { step: number; m: Array<number>; v: Array<number> }
    rows: Array<string>
    lossSum: number
    lossCount: number
    clock: RegressionCheckpoint["clock"]
  }
  if (p.kind !== "regression") return { problem: "not a regression run's checkpoint" }
  return {
    state: {
      step: p.step,
      values: Float64Array.from(p.values),
      optimizer: { step: p.adam.step, m: Float64Array.from(p.adam.m), v: Float64Array.from(p.adam.v) },
      rows: p.rows,
      lossSum: p.lossSum,
      lossCount: p.lossCount,
      clock: p.clock
    }
  }
}

const stepsOf = (fit: KernelGdFit): StepParameters => ({ scale: fit.scale, eta: fit.eta, gamma: 0 })

/**
 * The construction the trained weights are interpolated towards: the grid-optimal reference, with each layer's scale
 * taken from the trained layer where only s·η matters (linear, ReLU), so that the path does not cross a rescaling.
 */
const interpolationTarget = (spec: RegressionSpec, values: Float64Array, fit: KernelGdFit): Float64Array => {
  if (scaleMatters(spec.activation)) return constructedWeights(spec, [stepsOf(fit)])
  const product = fit.scale * fit.eta
  const steps = extractSteps(spec, values).map((layer) => {
    const scale = Math.abs(layer.scale) > 1e-6 ? layer.scale : 1
    return { scale, eta: product / scale, gamma: 0 }
  })
  return constructedWeights(spec, steps)
}

const layersJson = (spec: RegressionSpec, values: Float64Array) => {
  const D = tokenDim(spec)
  return Array.from({ length: distinctLayers(spec) }, (_, l) => ({
    A: matrixRows(values.subarray(l * 2 * D * D, (2 * l + 1) * D * D), D),
    P: matrixRows(values.subarray((2 * l + 1) * D * D, (2 * l + 2) * D * D), D)
  }))
}

const perContextCsv = (set: RegressionBatch, model: Predictions, gd: Predictions, bayes: Predictions) => {
  const lines = ["context,target,model,gd,bayes"]
  for (let t = 0; t < set.size; t++) {
    lines.push([String(t), ...[set.target[t]!, model.prediction[t]!, gd.prediction[t]!, bayes.prediction[t]!].map(csvNumber)].join(","))
  }
  return `${lines.join("\n")}\n`
}

/** Training batches sampled on the training thread as they are needed (regression tasks are cheap to draw). */
const inlineBatches = (config: RegressionConfig, first: number): BatchSource<RegressionBatch> => {
  let next = first
  const draw = () => sampleRegressionTasks(config.task, config.seed, "train", next++, config.training.batchSize)
  return { poll: draw, next: Effect.sync(draw), release: () => Effect.void }
}

/** Trains one regression run to its end; a finished run is returned as stored, a partial one resumes. */
export const regressionRun = (config: RegressionConfig, options: RunFolderOptions = {}) =>
  inRunFolder(config, options, (runId, file) => executeRegressionRun(config, runId, file))

const executeRegressionRun = (config: RegressionConfig, runId: string, file: (name: string) => string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const trainer = yield* RegressionTrainer
    const references = yield* RegressionReferences
    const startedAt = new Date()
    const phases = makePhaseClock()
    const { clock, timed } = phases

    const session = yield* trainer.open(config)
    const { spec } = session
    const checkpoint = yield* readCheckpoint(file, decodeState)
    yield* Effect.logInfo(
      Option.isSome(checkpoint)
        ? `resuming ${spec.depth}-layer ${spec.activation} attention from step ${checkpoint.value.step}`
        : `training ${spec.depth}-layer ${spec.activation} attention`
    ).pipe(
      Effect.annotateLogs({
        engine: session.engine.engine,
        backend: session.engine.backend ?? "none",
        family: config.task.family,
        kernel: config.task.kernel,
        d: config.task.d,
        n: config.task.n,
        steps: config.training.steps
      })
    )
    const evalSet = yield* references.frozenSet(config.task, config.evaluation.seed, "evaluation", config.evaluation.size)
    const { d } = config.task

    // References: fitted on the grid-search set, scored on the evaluation set.
    const referenceSummaries: Record<string, RegressionReferenceSummary> = {}
    const referencesJson: Record<string, unknown> = {}
    const score = (values: Float64Array, referenceSpec: RegressionSpec = spec) => predictBatch(referenceSpec, values, evalSet)
    const { gdFit, gdPredictions, bayesPredictions } = yield* timed(
      "references",
      Effect.gen(function* () {
        const gdFit = yield* references.kernelGd(config, spec.activation)
        const gdPredictions = score(constructedWeights(spec, [stepsOf(gdFit)]))
        const kindOfGd = spec.activation === "linear" ? "GD" : `functional GD (${spec.activation} kernel)`
        referenceSummaries["gd"] = {
          description: `${spec.depth}-step ${kindOfGd} from 0, grid-optimal step size${scaleMatters(spec.activation) ? " and scale" : ""}`,
          parameters: { scale: gdFit.scale, eta: gdFit.eta, steps: spec.depth },
          loss: squaredLoss(gdPredictions.prediction, evalSet.target)
        }
        referencesJson["gd"] = gdFit
        const bayesPredictions = posteriorMean(config.task.kernel, config.task.bandwidth, config.task.noise, evalSet)
        referenceSummaries["bayes"] = {
          description: "posterior mean of the prior the tasks are drawn from (Bayes-optimal)",
          parameters: {},
          loss: squaredLoss(bayesPredictions.prediction, evalSet.target)
        }
        if (config.task.family === "linear-regression" && spec.activation === "linear" && spec.depth >= 2) {
          const fit = yield* references.gdPlusPlus(config)
          const unrolled: RegressionSpec = { ...spec, recurrent: false }
          const values = constructedWeights(
            unrolled,
            fit.etas.map((eta, k) => ({ scale: 1, eta, gamma: fit.gammas[k]! }))
          )
          referenceSummaries["gd++"] = {
            description: `${spec.depth} GD++ steps: GD with the input transformation x ← (I − γ_k Σ̂) x, fitted (γ_k, η_k)`,
            parameters: { gammas: fit.gammas, etas: fit.etas },
            loss: squaredLoss(score(values, unrolled).prediction, evalSet.target)
          }
          referencesJson["gd++"] = fit
        }
        if (config.task.family === "gp") {
          for (const activation of ACTIVATIONS) {
            const fit = yield* references.kernelGd(config, activation)
            const activationSpec: RegressionSpec = { ...spec, activation }
            referenceSummaries[`fgd-${activation}`] = {
              description: `${spec.depth}-step functional GD with the ${activation} attention kernel, grid-optimal`,
              parameters: { scale: fit.scale, eta: fit.eta, steps: spec.depth },
              // Scored from its own fit, the model's own kernel too (where it equals the "gd" reference).
              loss: squaredLoss(
                predictBatch(activationSpec, constructedWeights(activationSpec, [stepsOf(fit)]), evalSet, false).prediction,
                evalSet.target
              )
            }
            referencesJson[`fgd-${activation}`] = fit
          }
        }
        return { gdFit, gdPredictions, bayesPredictions }
      })
    )
    yield* store.writeJson(file("references.json"), { ...referencesJson, summaries: referenceSummaries })

    const evaluateAt = (step: number, trainLoss: number | null) =>
      timed(
        "evaluation",
        Effect.sync(() => {
          const model = score(session.values)
          const steps = extractSteps(spec, session.values)
          const extracted = score(constructedWeights(spec, steps))
          const point: RegressionPoint = {
            step,
            trainLoss,
            model: { loss: squaredLoss(model.prediction, evalSet.target) },
            extracted: {
              layers: steps.map((layer, l) => ({ ...layer, offConstruction: offConstructionNorm(spec, session.values, l) })),
              loss: squaredLoss(extracted.prediction, evalSet.target)
            },
            alignment: {
              gridOptimum: alignmentOf(model, gdPredictions, d),
              extracted: alignmentOf(model, extracted, d),
              bayes: alignmentOf(model, bayesPredictions, d)
            }
          }
          return { point, model }
        })
      )

    if (Option.isSome(checkpoint)) session.restore(checkpoint.value.values, checkpoint.value.optimizer)
    const { rows, last } = yield* trainingLoop({
      runId,
      file,
      steps: config.training.steps,
      schedule: new Set(evaluationSteps(config.training.steps, config.evaluation.every, config.evaluation.logSpacedPoints)),
      checkpointEvery: config.runtime.checkpointEvery,
      progress: config.output.progress,
      phases,
      resumed: checkpoint,
      batches: (first) => Effect.sync(() => inlineBatches(config, first)),
      step: session.stepNow,
      evaluate: evaluateAt,
      logEvaluation: (step, trainLoss, { point }) =>
        Effect.logDebug("evaluation").pipe(
          Effect.annotateLogs({ step, trainLoss, evalLoss: point.model.loss, modelCos: point.alignment.gridOptimum.modelCos })
        ),
      checkpoint: (position) => encodeState({ ...position, values: session.values, optimizer: session.optimizer }),
      yieldEvery: 16
    })

    const finalEvaluation = last ?? (yield* evaluateAt(config.training.steps, null))
    const final = JSON.parse(rows[rows.length - 1]!) as RegressionPoint
    const interpolation = yield* timed(
      "evaluation",
      Effect.sync(() => {
        const target = interpolationTarget(spec, session.values, gdFit)
        const count = config.references.interpolationPoints
        return Array.from({ length: count }, (_, i) => {
          const alpha = count === 1 ? 1 : i / (count - 1)
          const mixed = session.values.map((v, j) => (1 - alpha) * v + alpha * target[j]!)
          return { alpha, loss: squaredLoss(predictBatch(spec, mixed, evalSet, false).prediction, evalSet.target) }
        })
      })
    )
    if (config.output.perContext) {
      yield* store.writeText(file("per-context.csv"), perContextCsv(evalSet, finalEvaluation.model, gdPredictions, bayesPredictions))
    }
    yield* store.writeJson(file("weights.json"), {
      d,
      attention: spec.activation,
      layers: spec.depth,
      recurrent: spec.recurrent,
      final: layersJson(spec, session.values),
      initial: layersJson(spec, session.initial)
    })
    const summary: RegressionSummary = {
      kind: "regression",
      runId,
      name: config.name,
      seed: config.seed,
      task: config.task,
      model: { attention: config.model.attention, layers: config.model.layers, recurrent: config.model.recurrent },
      steps: config.training.steps,
      engine: session.engine,
      final,
      references: referenceSummaries,
      interpolation
    }
    const wallSeconds = yield* writeRunRecord(file, {
      runId,
      engine: session.engine,
      startedAt,
      resumedFromStep: Option.isSome(checkpoint) ? checkpoint.value.step : null,
      clock
    })
    yield* store.writeJson(file("summary.json"), summary)
    yield* Effect.logInfo("run finished").pipe(
      Effect.annotateLogs({
        evalLoss: final.model.loss,
        referenceLoss: referenceSummaries["gd"]!.loss,
        modelCos: final.alignment.gridOptimum.modelCos,
        wallSeconds
      })
    )
    return summary
  })
