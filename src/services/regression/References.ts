/**
 * The regression references of a run, cached for the life of the service (a sweep's worker reuses them across runs
 * that share a task): the frozen evaluation and grid-search sets, grid-optimal K-step functional GD for each attention
 * activation (on the inputs, and on a random-features task's true features), and GD++.
 */
import { Effect } from "effect"
import { canonicalJson } from "../../domain/ConfigSchema.js"
import { fitKernelGd, type KernelGdFit } from "../../domain/regression/KernelGd.js"
import type { RegressionActivation, RegressionConfig, RegressionTaskConfig } from "../../domain/regression/Config.js"
import { featureBatch } from "../../domain/regression/FeatureMap.js"
import { headOfBatch, type RegressionBatch, sampleRegressionTasks, taskFeatureMap } from "../../domain/regression/Task.js"
import type { StreamName } from "../../domain/Rng.js"
import { RegressionTrainer } from "./Trainer.js"

export interface GdPlusPlusFit {
  readonly gammas: ReadonlyArray<number>
  readonly etas: ReadonlyArray<number>
}

export class RegressionReferences extends Effect.Service<RegressionReferences>()("icl-gd/RegressionReferences", {
  effect: Effect.gen(function* () {
    const trainer = yield* RegressionTrainer
    const sets = new Map<string, RegressionBatch>()
    const fits = new Map<string, KernelGdFit>()
    const plusPlus = new Map<string, GdPlusPlusFit>()

    const frozenSet = (task: RegressionTaskConfig, seed: number, stream: StreamName, size: number) =>
      Effect.sync(() => {
        const key = canonicalJson({ task, seed, stream, size })
        let set = sets.get(key)
        if (set === undefined) {
          set = sampleRegressionTasks(task, seed, stream, 0, size)
          sets.set(key, set)
        }
        return set
      })

    const gridSet = (config: RegressionConfig) =>
      frozenSet(config.task, config.references.gridSeed, "grid", config.references.gridSize)

    /**
     * Grid-optimal (s, η) of K-step functional GD with this activation's kernel, K = the model's depth, fitted on `set`
     * (the grid-search set, or its true features) and cached under `on` and the grid's settings.
     */
    const fitOnGrid = <E, R>(
      config: RegressionConfig,
      activation: RegressionActivation,
      on: "task" | "features",
      set: Effect.Effect<Parameters<typeof fitKernelGd>[2], E, R>
    ) =>
      Effect.gen(function* () {
        const { references } = config
        const key = canonicalJson({
          [on]: config.task,
          grid: [references.gridSize, references.gridSeed, references.eta, references.scale],
          steps: config.model.layers,
          activation
        })
        const cached = fits.get(key)
        if (cached !== undefined) return cached
        const fit = fitKernelGd(activation, config.model.layers, yield* set, references)
        fits.set(key, fit)
        return fit
      })

    /** Grid-optimal (s, η) of K-step functional GD with this activation's kernel, K = the model's depth. */
    const kernelGd = (config: RegressionConfig, activation: RegressionActivation) => fitOnGrid(config, activation, "task", gridSet(config))

    /** The grid-search set's inputs mapped through the task's feature map ("random-features"). */
    const featureGridSet = (config: RegressionConfig) =>
      Effect.gen(function* () {
        const key = canonicalJson({ features: config.task, seed: config.references.gridSeed, size: config.references.gridSize })
        let set = sets.get(key)
        if (set === undefined) {
          set = featureBatch(taskFeatureMap(config.task), yield* gridSet(config))
          sets.set(key, set)
        }
        return set
      })

    /** Grid-optimal K-step (functional) GD with this activation's kernel on the task's true features φ(x). */
    const featureGd = (config: RegressionConfig, activation: RegressionActivation) =>
      fitOnGrid(config, activation, "features", featureGridSet(config))

    /** GD++'s (γ_k, η_k), fitted from K-step GD at its grid-optimal step size. */
    const gdPlusPlus = (config: RegressionConfig) =>
      Effect.gen(function* () {
        const { references } = config
        const key = canonicalJson({
          task: config.task,
          grid: [references.gridSize, references.gridSeed, references.eta, references.gdPlusPlusIterations, references.gdPlusPlusTasks],
          steps: config.model.layers,
          backend: config.model.backend
        })
        const cached = plusPlus.get(key)
        if (cached !== undefined) return cached
        const start = yield* kernelGd(config, "linear")
        const grid = yield* gridSet(config)
        const fit = yield* trainer.gdPlusPlus(config, headOfBatch(grid, references.gdPlusPlusTasks), start.eta, references.gdPlusPlusIterations)
        plusPlus.set(key, fit)
        return fit as GdPlusPlusFit
      })

    return { frozenSet, gridSet, kernelGd, featureGd, gdPlusPlus } as const
  }),
  dependencies: [RegressionTrainer.Default]
}) {}
