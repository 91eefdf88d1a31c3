/**
 * Model training: a session holds the weights and the optimizer state of one model and takes optimizer steps (Adam or
 * SGD, on the learning-rate schedule, with optional gradient clipping: domain/Optimizer) on batches.
 * The gradient comes from the fused engine (analytic, float64) or from TensorFlow.js autodiff (float32); `auto` picks
 * the fused engine for every model in its family, which today is every model.
 */
import { Effect, Option, type Scope } from "effect"
import { initOptimizer, optimizerStep, type OptimizerState } from "../../domain/classification/Optimizer.js"
import type { ExperimentConfig, TaskConfig } from "../../domain/classification/Config.js"
import type { EngineChoice } from "../../domain/ConfigSchema.js"
import type { BackendUnavailable } from "../../domain/Errors.js"
import type { Gradients } from "../../domain/classification/FusedGradient.js"
import { makeFusedKernel } from "../../domain/classification/FusedKernel.js"
import { copyWeights, initWeights, restrictToConstructionBlocks, type ModelSpec, modelSpecOf, type Weights } from "../../domain/classification/Model.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import type { EngineInfo, EngineName } from "../EngineInfo.js"
import { TfBackend } from "../TfBackend.js"
import { tfjsLossAndGradients } from "./TfjsEngine.js"
import { classificationKernel } from "../Kernels.js"
import { makeParallelGradient } from "./ParallelGradient.js"

export interface TrainingSession {
  readonly spec: ModelSpec
  readonly engine: EngineInfo
  /**
   * What computes the fused engine's training steps (trainingSteps): its WebAssembly SIMD kernel, or JavaScript when
   * the kernel cannot load; the same results either way. Null for TensorFlow.js.
   */
  readonly kernel: "wasm-simd" | "javascript" | null
  /** The weights at initialisation (kept to check that untouchable blocks never move). */
  readonly initial: Weights
  /** The live weights; read them, do not write them. */
  readonly weights: Weights
  readonly optimizer: OptimizerState
  /** One optimizer step on the batch; returns the batch's mean cross-entropy before the step. */
  readonly step: (batch: TaskBatch) => Effect.Effect<number>
  /** The same step, synchronously (the hot loop's form; no step is taken when the loss is not finite). */
  readonly stepNow: (batch: TaskBatch) => number
  /**
   * For engines that sample as they compute (the fused engine): optimizer steps on the training batches of the given steps,
   * each sampled and differentiated in chunks by this thread and `workers` worker threads, with the same result for
   * any number of workers. The step function returns the batch's loss before the step. None for engines that train on
   * the sampler's batches.
   */
  readonly trainingSteps: Option.Option<
    (task: TaskConfig, seed: number, batchSize: number, workers: number) => Effect.Effect<(step: number) => number, never, Scope.Scope>
  >
  /** Puts the weights and the optimizer state back to a checkpoint's. */
  readonly restore: (weights: Weights, optimizer: OptimizerState) => void
  /** The loss and gradient at the current weights, without a step (for checks and probes). */
  readonly gradients: (batch: TaskBatch) => Effect.Effect<{ readonly loss: number; readonly grads: Gradients }>
}

/** The fused engine covers the one-layer family with linear, softmax and exp attention. */
export const resolveEngine = (choice: EngineChoice, _spec: ModelSpec): EngineName => (choice === "auto" ? "fused" : choice)

export class ModelTrainer extends Effect.Service<ModelTrainer>()("icl-gd/ModelTrainer", {
  effect: Effect.gen(function* () {
    const backends = yield* TfBackend

    const open = (
      config: Pick<ExperimentConfig, "model" | "task" | "training" | "seed">
    ): Effect.Effect<TrainingSession, BackendUnavailable> =>
      Effect.gen(function* () {
        const spec = modelSpecOf(config)
        const engineName = resolveEngine(config.model.engine, spec)
        const initial = initWeights(spec, config.seed, config.model.initScale, config.model.initDistribution, {
          a: config.model.initA,
          b: config.model.initB
        })
        // Restricted blocks: the same draws for A and B_yy as the full model's, every other entry 0 and kept there.
        const restrict = config.model.restrictBlocks === true
        if (restrict) restrictToConstructionBlocks(initial, spec.d, initial.D)
        const weights = copyWeights(initial)
        const optimizer = initOptimizer(weights.D)
        const grads: Gradients = { kq: new Float64Array(weights.D ** 2), pv: new Float64Array(weights.D ** 2) }
        let compute: (batch: TaskBatch) => number
        let engine: EngineInfo
        if (engineName === "fused") {
          const kernel = makeFusedKernel(spec)
          compute = (batch) => kernel(weights, batch, grads)
          engine = { engine: "fused", backend: null, precision: "float64" }
        } else {
          const { tf, name } = yield* backends.acquire(config.model.backend)
          compute = (batch) => tfjsLossAndGradients(tf, spec, weights, batch, grads)
          engine = { engine: "tfjs", backend: name, precision: "float32" }
        }
        const applied = (loss: number) => {
          if (restrict) restrictToConstructionBlocks(grads, spec.d, weights.D)
          if (Number.isFinite(loss)) optimizerStep(weights, grads, optimizer, config.training)
          return loss
        }
        const stepNow = (batch: TaskBatch) => applied(compute(batch))
        const simd = engineName === "fused" ? classificationKernel() : undefined
        if (simd?.loaded === false && process.env["ICL_GD_SIMD"] !== "0") {
          yield* Effect.logWarning(`the SIMD kernel did not load (${simd.reason}); training in JavaScript: the same results, slower`)
        }
        const trainingSteps: TrainingSession["trainingSteps"] =
          engineName === "fused"
            ? Option.some((task, seed, batchSize, workers) =>
                makeParallelGradient({ spec, task, seed, batchSize, workers, simd: simd?.loaded ? simd.module : undefined }).pipe(
                  Effect.map((pool) => (step: number) => applied(pool.lossAndGradient(step, weights, grads)))
                )
              )
            : Option.none()
        const session: TrainingSession = {
          spec,
          engine,
          kernel: simd === undefined ? null : simd.loaded ? "wasm-simd" : "javascript",
          initial,
          weights,
          optimizer,
          step: (batch) => Effect.sync(() => stepNow(batch)),
          stepNow,
          trainingSteps,
          restore: (w, state) => {
            weights.kq.set(w.kq)
            weights.pv.set(w.pv)
            optimizer.step = state.step
            for (const part of ["m", "v"] as const) {
              optimizer[part].kq.set(state[part].kq)
              optimizer[part].pv.set(state[part].pv)
            }
          },
          gradients: (batch) =>
            Effect.sync(() => {
              const loss = compute(batch)
              if (restrict) restrictToConstructionBlocks(grads, spec.d, weights.D)
              return { loss, grads: { kq: grads.kq.slice(), pv: grads.pv.slice() } }
            })
        }
        return session
      })

    return { open } as const
  }),
  dependencies: [TfBackend.Default]
}) {}
