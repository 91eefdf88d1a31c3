/**
 * Training of regression models: a session holds the flat parameter vector and its optimizer state and takes optimizer
 * steps (Adam or SGD, on the learning-rate schedule, with optional gradient clipping: domain/Optimizer). Gradients come
 * from the fused engine (analytic, float64: regression/FusedKernel for one layer, regression/DeepKernel for K layers,
 * summed over fixed chunks of tasks) or from TensorFlow.js autodiff (float32; regression/TfjsEngine); `auto` picks the
 * fused engine wherever it applies.
 */
import { Effect, Option, type Scope } from "effect"
import { initVectorOptimizer, vectorOptimizerStep, type VectorOptimizerState } from "../../domain/Optimizer.js"
import { fillInitial } from "../../domain/Initialisation.js"
import type { BackendUnavailable } from "../../domain/Errors.js"
import type { RegressionConfig, RegressionInitDistribution } from "../../domain/regression/Config.js"
import {
  attentionParameterCount,
  distinctLayers,
  embeddingLayers,
  layerOffset,
  parameterCount,
  type RegressionSpec,
  tokenDim,
  trainableMask
} from "../../domain/regression/Model.js"
import type { RegressionBatch } from "../../domain/regression/Task.js"
import { keyedRng } from "../../domain/Rng.js"
import type { EngineChoice } from "../../domain/ConfigSchema.js"
import { deepKernelKind, makeChunkedDeepKernel } from "../../domain/regression/ChunkedGradient.js"
import { simdCovers } from "../../domain/regression/SimdKernel.js"
import { regressionKernel } from "../Kernels.js"
import { fusedCovers, makeOneLayerKernel } from "../../domain/regression/FusedKernel.js"
import type { EngineInfo, EngineName } from "../EngineInfo.js"
import { makeRegressionParallelGradient } from "./ParallelGradient.js"
import { fitGdPlusPlus, regressionLossAndGradients } from "./TfjsEngine.js"
import { TfBackend } from "../TfBackend.js"

export const regressionSpecOf = (config: Pick<RegressionConfig, "model" | "task">): RegressionSpec => {
  const { embedding } = config.model
  return {
    activation: config.model.attention,
    d: embedding === null ? config.task.d : embedding.features,
    depth: config.model.layers,
    recurrent: config.model.recurrent,
    form: config.model.form,
    embedding: embedding === null ? null : { inputs: config.task.d, hidden: embedding.hidden, activation: embedding.activation }
  }
}

/** The attention model on the raw inputs (no embedding): the spec of the references' constructions. */
export const referenceSpecOf = (config: Pick<RegressionConfig, "model" | "task">): RegressionSpec => ({
  ...regressionSpecOf(config),
  d: config.task.d,
  embedding: null
})

/**
 * The merged weights of von Oswald et al.'s initialisation (regression/Config's RegressionInitDistribution): per
 * distinct layer, W_Q, W_K, W_V, W_O drawn truncated-normal with variance initScale / (layers·D), in that order, then
 * A = W_Kᵀ W_Q and P = W_O W_V.
 */
const vonOswaldWeights = (spec: RegressionSpec, seed: number, initScale: number, values: Float64Array) => {
  const D = tokenDim(spec)
  const rng = keyedRng(seed, "init", 0, 1)
  const std = Math.sqrt(initScale / (spec.depth * D))
  const [query, key, value, output] = Array.from({ length: 4 }, () => new Float64Array(D * D))
  for (let l = 0; l < distinctLayers(spec); l++) {
    for (const w of [query!, key!, value!, output!]) fillInitial(rng, w, 0, D * D, std, "truncated-normal")
    const a = layerOffset(spec, l)
    const p = a + D * D
    for (let r = 0; r < D; r++) {
      for (let c = 0; c < D; c++) {
        let kq = 0
        let ov = 0
        for (let k = 0; k < D; k++) {
          kq += key![k * D + r]! * query![k * D + c]!
          ov += output![r * D + k]! * value![k * D + c]!
        }
        values[a + r * D + c] = kq
        values[p + r * D + c] = ov
      }
    }
  }
}

/**
 * Every trained attention weight drawn with standard deviation `initScale` (N(0, initScale²) by default;
 * domain/Initialisation), or von Oswald et al.'s initialisation, from the run's own initialisation stream; the weights
 * outside the model's form are 0; an embedding's weights N(0, 1/fan-in) and its biases 0. Initialisations of regression models only (the extension point of RegressionInitDistribution) get their case
 * here.
 */
export const initRegressionWeights = (
  spec: RegressionSpec,
  seed: number,
  initScale: number,
  distribution: RegressionInitDistribution = "normal"
): Float64Array => {
  const values = new Float64Array(parameterCount(spec))
  if (distribution === "von-oswald") vonOswaldWeights(spec, seed, initScale, values)
  else fillInitial(keyedRng(seed, "init", 0, 1), values, 0, attentionParameterCount(spec), initScale, distribution)
  // An embedding's weights LeCun-normal, N(0, 1/fan-in), from a stream of their own; biases 0.
  const embeddingRng = keyedRng(seed, "init", 0, 2)
  for (const layer of embeddingLayers(spec)) {
    fillInitial(embeddingRng, values, layer.weights, layer.outputs * layer.inputs, 1 / Math.sqrt(layer.inputs), "normal")
  }
  const mask = trainableMask(spec)
  if (mask !== null) for (let i = 0; i < values.length; i++) values[i]! *= mask[i]!
  return values
}

export const resolveRegressionEngine = (choice: EngineChoice, spec: RegressionSpec): EngineName =>
  choice === "auto" ? (fusedCovers(spec) ? "fused" : "tfjs") : choice

export interface RegressionSession {
  readonly spec: RegressionSpec
  readonly engine: EngineInfo
  /**
   * What computes the K-layer fused engine's steps: its WebAssembly SIMD kernel, or JavaScript when the kernel cannot
   * load; the same results either way. Null for the one-layer kernel and TensorFlow.js.
   */
  readonly kernel: "wasm-simd" | "javascript" | null
  readonly initial: Float64Array
  /** The live parameters; read them, do not write them. */
  readonly values: Float64Array
  readonly optimizer: VectorOptimizerState
  /** One optimizer step; returns the batch loss before it (no step is taken when the loss is not finite). */
  readonly stepNow: (batch: RegressionBatch) => number
  /**
   * For the K-layer fused engine: optimizer steps on the training batches of the given steps, each sampled and
   * differentiated in chunks by this thread and `workers` worker threads, with the same result for any number of
   * workers (and as stepNow on the batch sampled whole). None for the other engines, which train on batches.
   */
  readonly trainingSteps: Option.Option<(workers: number) => Effect.Effect<(step: number) => number, never, Scope.Scope>>
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
        const fused = resolveRegressionEngine(config.model.engine, spec) === "fused"
        const deep = fused && spec.depth > 1
        // The K-layer engine's SIMD kernel, where it covers the model (a kernel that does not load: JavaScript, warned).
        const load = deep && simdCovers(spec) ? regressionKernel() : undefined
        if (load?.loaded === false && process.env["ICL_GD_SIMD"] !== "0") {
          yield* Effect.logWarning(`the SIMD kernel did not load (${load.reason}); training in JavaScript: the same results, slower`)
        }
        const simd = load?.loaded ? load.module : undefined
        if (fused) {
          // One layer: the one-layer kernel over the whole batch (as before the K-layer engine); deeper: chunk by chunk.
          const kernel = spec.depth === 1 ? makeOneLayerKernel(spec, config.task.n) : makeChunkedDeepKernel(spec, config.task.n, simd)
          gradient = (batch) => kernel(values, batch, grads)
          engine = { engine: "fused", backend: null, precision: "float64" }
        } else {
          const { tf, name } = yield* backends.acquire(config.model.backend)
          gradient = (batch) => regressionLossAndGradients(tf, spec, values, batch, grads)
          engine = { engine: "tfjs", backend: name, precision: "float32" }
        }
        // Weights outside the form get no gradient, so the optimizer never moves them from 0 (and clipping ignores them).
        const mask = trainableMask(spec)
        const masked = (loss: number) => {
          if (mask !== null) for (let i = 0; i < grads.length; i++) grads[i]! *= mask[i]!
          return loss
        }
        const compute = (batch: RegressionBatch) => masked(gradient(batch))
        const applied = (loss: number) => {
          if (Number.isFinite(loss)) vectorOptimizerStep(values, grads, optimizer, config.training)
          return loss
        }
        const trainingSteps: RegressionSession["trainingSteps"] = deep
          ? Option.some((workers) =>
              makeRegressionParallelGradient({ spec, task: config.task, seed: config.seed, batchSize: config.training.batchSize, workers, simd }).pipe(
                Effect.map((pool) => (step: number) => applied(masked(pool.lossAndGradient(step, values, grads))))
              )
            )
          : Option.none()
        return {
          spec,
          engine,
          kernel: deep ? deepKernelKind(spec, simd) : null,
          initial,
          values,
          optimizer,
          stepNow: (batch) => applied(compute(batch)),
          trainingSteps,
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
        .pipe(Effect.map(({ tf }) => fitGdPlusPlus(tf, referenceSpecOf(config), batch, startEta, iterations)))

    return { open, gdPlusPlus } as const
  }),
  dependencies: [TfBackend.Default]
}) {}
