/**
 * Training of regression models: a session holds the flat parameter vector and its optimizer state and takes optimizer
 * steps (Adam or SGD, on the learning-rate schedule, with optional gradient clipping: domain/Optimizer). Gradients come from the fused engine (one layer, analytic, float64; regression/FusedKernel) or from TensorFlow.js
 * autodiff (any depth, float32; regression/TfjsEngine); `auto` picks the fused engine wherever it applies.
 */
import { Effect } from "effect"
import { initVectorOptimizer, vectorOptimizerStep, type VectorOptimizerState } from "../../domain/Optimizer.js"
import { fillInitial } from "../../domain/Initialisation.js"
import type { BackendUnavailable } from "../../domain/Errors.js"
import type { RegressionConfig, RegressionInitDistribution } from "../../domain/regression/Config.js"
import { parameterCount, type RegressionSpec, trainableMask } from "../../domain/regression/Model.js"
import type { RegressionBatch } from "../../domain/regression/Task.js"
import { keyedRng } from "../../domain/Rng.js"
import type { EngineChoice } from "../../domain/ConfigSchema.js"
import { fusedCovers, makeOneLayerKernel } from "../../domain/regression/FusedKernel.js"
import type { EngineInfo, EngineName } from "../EngineInfo.js"
import { fitGdPlusPlus, regressionLossAndGradients } from "./TfjsEngine.js"
import { TfBackend } from "../TfBackend.js"

export const regressionSpecOf = (config: Pick<RegressionConfig, "model" | "task">): RegressionSpec => ({
  activation: config.model.attention,
  d: config.task.d,
  depth: config.model.layers,
  recurrent: config.model.recurrent,
  form: config.model.form
})

/**
 * Every trained weight drawn with standard deviation `initScale` (N(0, initScale²) by default; domain/Initialisation),
 * from the run's own initialisation stream; the others 0. Initialisations of regression models only (the extension
 * point of RegressionInitDistribution) get their case here.
 */
export const initRegressionWeights = (
  spec: RegressionSpec,
  seed: number,
  initScale: number,
  distribution: RegressionInitDistribution = "normal"
): Float64Array => {
  const values = new Float64Array(parameterCount(spec))
  fillInitial(keyedRng(seed, "init", 0, 1), values, 0, values.length, initScale, distribution)
  const mask = trainableMask(spec)
  if (mask !== null) for (let i = 0; i < values.length; i++) values[i]! *= mask[i]!
  return values
}

export const resolveRegressionEngine = (choice: EngineChoice, spec: RegressionSpec): EngineName =>
  choice === "auto" ? (fusedCovers(spec) ? "fused" : "tfjs") : choice

export interface RegressionSession {
  readonly spec: RegressionSpec
  readonly engine: EngineInfo
  readonly initial: Float64Array
  /** The live parameters; read them, do not write them. */
  readonly values: Float64Array
  readonly optimizer: VectorOptimizerState
  /** One optimizer step; returns the batch loss before it (no step is taken when the loss is not finite). */
  readonly stepNow: (batch: RegressionBatch) => number
  readonly restore: (values: Float64Array, optimizer: VectorOptimizerState) => void
}

export class RegressionTrainer extends Effect.Service<RegressionTrainer>()("icl-gd/RegressionTrainer", {
  effect: Effect.gen(function* () {
    const backends = yield* TfBackend

    const open = (
      config: Pick<RegressionConfig, "model" | "task" | "training" | "seed">
    ): Effect.Effect<RegressionSession, BackendUnavailable> =>
      Effect.gen(function* () {
        const spec = regressionSpecOf(config)
        const initial = initRegressionWeights(spec, config.seed, config.model.initScale, config.model.initDistribution)
        const values = initial.slice()
        const optimizer = initVectorOptimizer(values.length)
        const grads = new Float64Array(values.length)
        let gradient: (batch: RegressionBatch) => number
        let engine: EngineInfo
        if (resolveRegressionEngine(config.model.engine, spec) === "fused") {
          const kernel = makeOneLayerKernel(spec, config.task.n)
          gradient = (batch) => kernel(values, batch, grads)
          engine = { engine: "fused", backend: null, precision: "float64" }
        } else {
          const { tf, name } = yield* backends.acquire(config.model.backend)
          gradient = (batch) => regressionLossAndGradients(tf, spec, values, batch, grads)
          engine = { engine: "tfjs", backend: name, precision: "float32" }
        }
        // Weights outside the form get no gradient, so the optimizer never moves them from 0 (and clipping ignores them).
        const mask = trainableMask(spec)
        const compute = (batch: RegressionBatch) => {
          const loss = gradient(batch)
          if (mask !== null) for (let i = 0; i < grads.length; i++) grads[i]! *= mask[i]!
          return loss
        }
        return {
          spec,
          engine,
          initial,
          values,
          optimizer,
          stepNow: (batch) => {
            const loss = compute(batch)
            if (Number.isFinite(loss)) vectorOptimizerStep(values, grads, optimizer, config.training)
            return loss
          },
          restore: (stored, state) => {
            values.set(stored)
            optimizer.step = state.step
            optimizer.m.set(state.m)
            optimizer.v.set(state.v)
          }
        } satisfies RegressionSession
      })

    /** GD++'s fitted (γ_k, η_k) on a grid-search set (see TfjsEngine.fitGdPlusPlus). */
    const gdPlusPlus = (
      config: Pick<RegressionConfig, "model" | "task">,
      batch: RegressionBatch,
      startEta: number,
      iterations: number
    ) =>
      backends
        .acquire(config.model.backend)
        .pipe(Effect.map(({ tf }) => fitGdPlusPlus(tf, regressionSpecOf(config), batch, startEta, iterations)))

    return { open, gdPlusPlus } as const
  }),
  dependencies: [TfBackend.Default]
}) {}
