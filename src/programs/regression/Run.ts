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
 *   run.json, run.log, digests.json, checkpoint.json (+ .prev)   as for classification runs
 */
import { Effect, Option, type Scope } from "effect"
import { decodeChecked, encodeChecked } from "../../domain/Checkpoint.js"
import { evaluationSteps } from "../../domain/EvaluationSchedule.js"
import { csvNumber, matrixRows } from "../../domain/Results.js"
import { featureBatch, throughFeatures } from "../../domain/regression/FeatureMap.js"
import { fitKernelGd, type KernelGdFit, posteriorMean, scaleMatters } from "../../domain/regression/KernelGd.js"
import type { RegressionActivation, RegressionConfig } from "../../domain/regression/Config.js"
import { alignmentOf, type RegressionAlignment } from "../../domain/regression/Metrics.js"
import {
  attentionParameterCount,
  constructedWeights,
  distinctLayers,
  embedBatch,
  embeddingLayers,
  extractSteps,
  offConstructionNorm,
  type Predictions,
  predictBatch,
  type RegressionSpec,
  squaredLoss,
  type StepParameters,
  tokenDim
} from "../../domain/regression/Model.js"
import { type RegressionBatch, sampleRegressionTasks, taskFeatureMap } from "../../domain/regression/Task.js"
import type { EngineInfo } from "../../services/EngineInfo.js"
import { RegressionReferences } from "../../services/regression/References.js"
import { referenceSpecOf, RegressionTrainer } from "../../services/regression/Trainer.js"
import { RunStore } from "../../services/RunStore.js"
import { sealRun } from "../RunIntegrity.js"
import { inRunFolder, readCheckpoint, type RunFolderOptions, type RunOutcome } from "../RunFolder.js"
import { type BatchSource, type LoopPosition, makePhaseClock, selfSampledSteps, trainingLoop, writeRunRecord } from "../TrainingLoop.js"

export interface ExtractedLayer extends StepParameters {
  /** s·η: the step size of plain GD for linear attention (only the product matters for linear and ReLU). */
  readonly effectiveEta: number
  /** Relative norm of the weights outside the construction's form (0 = exactly a GD layer). */
  readonly offConstruction: number
}

/**
 * A model with an embedding against K-step (functional) GD on its own learned features z = MLP(x): the attention
 * weights of the grid-optimal construction on the grid-search set's embedded inputs, with the model's embedding.
 */
export interface LearnedFeaturesPoint {
  readonly loss: number
  readonly scale: number
  readonly eta: number
  readonly alignment: RegressionAlignment
}

export interface RegressionPoint {
  readonly step: number
  readonly trainLoss: number | null
  readonly model: { readonly loss: number }
  readonly extracted: { readonly layers: ReadonlyArray<ExtractedLayer>; readonly loss: number }
  /** Models with an embedding only: GD on the learned features at its grid optimum. */
  readonly learnedFeatures?: LearnedFeaturesPoint
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
  readonly model: Pick<RegressionConfig["model"], "attention" | "layers" | "recurrent"> & Partial<Pick<RegressionConfig["model"], "embedding">>
  readonly steps: number
  readonly engine: EngineInfo
  readonly final: RegressionPoint
  /**
   * "gd": K-step (functional) GD with the model's kernel on the inputs at the grid optimum; "gd++" (linear regression,
   * 2+ layers); "bayes": the posterior mean; "fgd-<activation>": K-step functional GD with each attention kernel (GP
   * tasks); "gd-features": "gd" on the task's true features φ(x) (random-features tasks).
   */
  readonly references: Readonly<Record<string, RegressionReferenceSummary>>
  /**
   * Loss of (1 − α)·trained + α·constructed weights; the construction is the grid-optimal GD reference (with an
   * embedding: the attention weights only, towards GD on the learned features, the embedding kept).
   */
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

/** Each embedding layer's W (out × in) and b. */
const embeddingJson = (spec: RegressionSpec, values: Float64Array) =>
  embeddingLayers(spec).map((layer) => ({
    W: Array.from({ length: layer.outputs }, (_, r) =>
      Array.from(values.subarray(layer.weights + r * layer.inputs, layer.weights + (r + 1) * layer.inputs))
    ),
    b: Array.from(values.subarray(layer.bias, layer.bias + layer.outputs))
  }))

/** The model's parameters with the attention part replaced by `attention` (the embedding, if any, kept). */
const withAttention = (spec: RegressionSpec, values: Float64Array, attention: Float64Array): Float64Array => {
  const out = values.slice()
  out.set(attention.subarray(0, attentionParameterCount(spec)))
  return out
}

const layersJson = (spec: RegressionSpec, values: Float64Array) => {
  const D = tokenDim(spec)
  return Array.from({ length: distinctLayers(spec) }, (_, l) => ({
    A: matrixRows(values.subarray(l * 2 * D * D, (2 * l + 1) * D * D), D),
    P: matrixRows(values.subarray((2 * l + 1) * D * D, (2 * l + 2) * D * D), D)
  }))
}

/** Per evaluation task: target, model, GD on the inputs, Bayes, and (with an embedding) GD on the learned features. */
const perContextCsv = (set: RegressionBatch, model: Predictions, gd: Predictions, bayes: Predictions, learned: Predictions | null) => {
  const lines = [`context,target,model,gd,bayes${learned === null ? "" : ",gd_learned"}`]
  for (let t = 0; t < set.size; t++) {
    const values = [set.target[t]!, model.prediction[t]!, gd.prediction[t]!, bayes.prediction[t]!, ...(learned === null ? [] : [learned.prediction[t]!])]
    lines.push([String(t), ...values.map(csvNumber)].join(","))
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
  inRunFolder(config, options, (runId, file) => Effect.scoped(executeRegressionRun(config, runId, file)))

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
    const checkpoint = yield* readCheckpoint(file, decodeState, runId)
    yield* Effect.logInfo(
      Option.isSome(checkpoint)
        ? `resuming ${spec.depth}-layer ${spec.activation} attention from step ${checkpoint.value.step}`
        : `training ${spec.depth}-layer ${spec.activation} attention`
    ).pipe(
      Effect.annotateLogs({
        engine: session.engine.engine,
        backend: session.engine.backend ?? "none",
        ...(session.kernel === null ? {} : { gradientKernel: session.kernel }),
        family: config.task.family,
        kernel: config.task.kernel,
        d: config.task.d,
        n: config.task.n,
        steps: config.training.steps
      })
    )
    const evalSet = yield* references.frozenSet(config.task, config.evaluation.seed, "evaluation", config.evaluation.size)
    const { d } = config.task
    // The references' constructions act on the inputs themselves (a model's embedding is its own).
    const rawSpec = referenceSpecOf(config)
    const embedded = (spec.embedding ?? null) !== null
    const featureMap = config.task.family === "random-features" ? taskFeatureMap(config.task) : null
    const gridSet = embedded ? yield* references.gridSet(config) : null

    // References: fitted on the grid-search set, scored on the evaluation set.
    const referenceSummaries: Record<string, RegressionReferenceSummary> = {}
    const referencesJson: Record<string, unknown> = {}
    const score = (values: Float64Array, referenceSpec: RegressionSpec = spec) => predictBatch(referenceSpec, values, evalSet)
    const { gdFit, gdPredictions, bayesPredictions } = yield* timed(
      "references",
      Effect.gen(function* () {
        const gdFit = yield* references.kernelGd(config, spec.activation)
        const gdPredictions = score(constructedWeights(rawSpec, [stepsOf(gdFit)]), rawSpec)
        const kindOfGd = spec.activation === "linear" ? "GD" : `functional GD (${spec.activation} kernel)`
        referenceSummaries["gd"] = {
          description: `${spec.depth}-step ${kindOfGd} from 0, grid-optimal step size${scaleMatters(spec.activation) ? " and scale" : ""}`,
          parameters: { scale: gdFit.scale, eta: gdFit.eta, steps: spec.depth },
          loss: squaredLoss(gdPredictions.prediction, evalSet.target)
        }
        referencesJson["gd"] = gdFit
        // Random-features tasks: the posterior mean of w in the feature space, taken back to x_q.
        const bayesPredictions =
          featureMap === null
            ? posteriorMean(config.task.kernel, config.task.bandwidth, config.task.noise, evalSet)
            : throughFeatures(featureMap, evalSet, posteriorMean("linear", 1, config.task.noise, featureBatch(featureMap, evalSet)))
        referenceSummaries["bayes"] = {
          description: "posterior mean of the prior the tasks are drawn from (Bayes-optimal)",
          parameters: {},
          loss: squaredLoss(bayesPredictions.prediction, evalSet.target)
        }
        if (config.task.family === "linear-regression" && spec.activation === "linear" && spec.depth >= 2) {
          const fit = yield* references.gdPlusPlus(config)
          const unrolled: RegressionSpec = { ...rawSpec, recurrent: false }
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
            const activationSpec: RegressionSpec = { ...rawSpec, activation }
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
        if (featureMap !== null) {
          const fit = yield* references.featureGd(config, spec.activation)
          const featureSpec: RegressionSpec = { ...rawSpec, d: featureMap.m }
          const predictions = predictBatch(featureSpec, constructedWeights(featureSpec, [stepsOf(fit)]), featureBatch(featureMap, evalSet), false)
          referenceSummaries["gd-features"] = {
            description: `${spec.depth}-step ${spec.activation === "linear" ? "GD" : `functional GD (${spec.activation} kernel)`} on the task's true features φ(x) (its random tanh layer), grid-optimal`,
            parameters: { scale: fit.scale, eta: fit.eta, steps: spec.depth },
            loss: squaredLoss(predictions.prediction, evalSet.target)
          }
          referencesJson["gd-features"] = fit
        }
        return { gdFit, gdPredictions, bayesPredictions }
      })
    )

    /** GD on the model's own learned features: fitted on the embedded grid-search set, with the model's embedding. */
    const learnedFeatureGd = (values: Float64Array) => {
      const fit = fitKernelGd(spec.activation, spec.depth, embedBatch(spec, values, gridSet!), config.references)
      return { fit, weights: withAttention(spec, values, constructedWeights(spec, [stepsOf(fit)])) }
    }
    yield* store.writeJson(file("references.json"), { ...referencesJson, summaries: referenceSummaries })

    const evaluateAt = (step: number, trainLoss: number | null) =>
      timed(
        "evaluation",
        Effect.sync(() => {
          const model = score(session.values)
          const steps = extractSteps(spec, session.values)
          const extracted = score(withAttention(spec, session.values, constructedWeights(spec, steps)))
          const learned = embedded ? learnedFeatureGd(session.values) : null
          const learnedPredictions = learned === null ? null : score(learned.weights)
          const point: RegressionPoint = {
            step,
            trainLoss,
            model: { loss: squaredLoss(model.prediction, evalSet.target) },
            extracted: {
              layers: steps.map((layer, l) => ({ ...layer, offConstruction: offConstructionNorm(spec, session.values, l) })),
              loss: squaredLoss(extracted.prediction, evalSet.target)
            },
            ...(learned === null
              ? {}
              : {
                  learnedFeatures: {
                    loss: squaredLoss(learnedPredictions!.prediction, evalSet.target),
                    scale: learned.fit.scale,
                    eta: learned.fit.eta,
                    alignment: alignmentOf(model, learnedPredictions!, d)
                  }
                }),
            alignment: {
              gridOptimum: alignmentOf(model, gdPredictions, d),
              extracted: alignmentOf(model, extracted, d),
              bayes: alignmentOf(model, bayesPredictions, d)
            }
          }
          return { point, model, learned: learnedPredictions }
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
      // The K-layer fused engine samples each step's batch itself, in chunks shared with its worker threads; the other
      // engines take batches sampled on this thread.
      batches: (first) =>
        Option.match(session.trainingSteps, {
          onSome: (open) => open(config.runtime.samplerThreads).pipe(Effect.map((stepAt) => selfSampledSteps(first, stepAt))),
          onNone: () => Effect.sync(() => inlineBatches(config, first))
        }) as Effect.Effect<BatchSource<RegressionBatch | (() => number)>, never, Scope.Scope>,
      step: (batch) => (typeof batch === "function" ? batch() : session.stepNow(batch)),
      evaluate: evaluateAt,
      logEvaluation: (step, trainLoss, { point }) =>
        Effect.logDebug("evaluation").pipe(
          Effect.annotateLogs({ step, trainLoss, evalLoss: point.model.loss, modelCos: point.alignment.gridOptimum.modelCos })
        ),
      checkpoint: (position) => encodeState({ ...position, values: session.values, optimizer: session.optimizer })
    })

    const finalEvaluation = last ?? (yield* evaluateAt(config.training.steps, null))
    const final = JSON.parse(rows[rows.length - 1]!) as RegressionPoint
    const interpolation = yield* timed(
      "evaluation",
      Effect.sync(() => {
        // With an embedding: the attention weights towards GD on the learned features, the embedding kept.
        const target = withAttention(spec, session.values, interpolationTarget(spec, session.values, embedded ? learnedFeatureGd(session.values).fit : gdFit))
        const count = config.references.interpolationPoints
        return Array.from({ length: count }, (_, i) => {
          const alpha = count === 1 ? 1 : i / (count - 1)
          const mixed = session.values.map((v, j) => (1 - alpha) * v + alpha * target[j]!)
          return { alpha, loss: squaredLoss(predictBatch(spec, mixed, evalSet, false).prediction, evalSet.target) }
        })
      })
    )
    if (config.output.perContext) {
      yield* store.writeText(file("per-context.csv"), perContextCsv(evalSet, finalEvaluation.model, gdPredictions, bayesPredictions, finalEvaluation.learned))
    }
    yield* store.writeJson(file("weights.json"), {
      d,
      attention: spec.activation,
      layers: spec.depth,
      recurrent: spec.recurrent,
      final: layersJson(spec, session.values),
      initial: layersJson(spec, session.initial),
      ...(embedded ? { embedding: { final: embeddingJson(spec, session.values), initial: embeddingJson(spec, session.initial) } } : {})
    })
    const summary: RegressionSummary = {
      kind: "regression",
      runId,
      name: config.name,
      seed: config.seed,
      task: config.task,
      model: {
        attention: config.model.attention,
        layers: config.model.layers,
        recurrent: config.model.recurrent,
        ...(embedded ? { embedding: config.model.embedding } : {})
      },
      steps: config.training.steps,
      engine: session.engine,
      final,
      references: referenceSummaries,
      interpolation
    }
    const wallSeconds = yield* writeRunRecord(file, {
      runId,
      engine: session.engine,
      kernel: session.kernel,
      startedAt,
      resumedFromStep: Option.isSome(checkpoint) ? checkpoint.value.step : null,
      clock
    })
    yield* sealRun(file, runId, summary)
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
