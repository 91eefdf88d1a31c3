import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber } from "effect"
import { type RegressionActivation, type RegressionConfig, type RegressionConfigInput, resolveRegressionConfig } from "../../../src/domain/regression/Config.js"
import { kernelGdPredictions, kernelTables } from "../../../src/domain/regression/KernelGd.js"
import { constructedWeights, predictBatch, squaredLoss } from "../../../src/domain/regression/Model.js"
import { headOfBatch, sampleRegressionTasks } from "../../../src/domain/regression/Task.js"
import { runIdOf } from "../../../src/domain/RunId.js"
import { planSweep } from "../../../src/programs/Registry.js"
import { regressionRun } from "../../../src/programs/regression/Run.js"
import { runSweep } from "../../../src/programs/Sweep.js"
import { fileSystemWith, FLOAT64_IDENTITY, QuietServicesLive, quietServicesWith } from "../../helpers.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "icl-gd-regression-"))
const DETERMINISTIC_FILES = ["metrics.jsonl", "summary.json", "per-context.csv", "weights.json", "references.json"]

/** A regression config that trains in well under a second. */
const tiny = (input: RegressionConfigInput = {}): RegressionConfig => {
  const base = resolveRegressionConfig({
    name: "tiny-regression",
    ...input,
    task: { family: "linear-regression", d: 4, n: 8, ...input.task },
    training: { batchSize: 64, steps: 60, learningRate: 0.01, ...input.training },
    evaluation: { every: 30, logSpacedPoints: 2, size: 300, ...input.evaluation },
    references: {
      gridSize: 300,
      eta: { min: 0.01, max: 100, count: 21 },
      scale: { min: 0.1, max: 10, count: 7 },
      gdPlusPlusIterations: 30,
      interpolationPoints: 5,
      ...input.references
    },
    output: { progress: false, dir: tempDir(), ...input.output }
  })
  return base
}

const sameFiles = (a: string, b: string) => {
  for (const file of DETERMINISTIC_FILES) {
    assert.strictEqual(readFileSync(join(b, file), "utf8"), readFileSync(join(a, file), "utf8"), file)
  }
}

describe("regression runs", () => {
  layer(QuietServicesLive)((it) => {
    it.effect("a one-layer run trains on the fused engine and writes every file, deterministically", () =>
      Effect.gen(function* () {
        const first = yield* regressionRun(tiny())
        const second = yield* regressionRun(tiny())
        sameFiles(first.dir, second.dir)
        const { summary } = first
        assert.strictEqual(summary.engine.engine, "fused")
        assert.deepStrictEqual(Object.keys(summary.references).sort(), ["bayes", "gd"])
        const rows = readFileSync(join(first.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
        assert.deepStrictEqual(rows.map((r) => r.step), [0, 1, 5, 30, 60])
        assert.isBelow(summary.final.model.loss, rows[0].model.loss, "training lowers the loss")
        // The interpolation ends at the construction, which computes the grid-optimal GD step exactly.
        assert.approximately(summary.interpolation.at(-1)!.loss, summary.references["gd"]!.loss, FLOAT64_IDENTITY)
        assert.strictEqual(summary.interpolation[0]!.loss, summary.final.model.loss)
        const csv = readFileSync(join(first.dir, "per-context.csv"), "utf8").trim().split("\n")
        assert.strictEqual(csv.length, 301)
        assert.strictEqual(csv[0], "context,target,model,gd,bayes")
      })
    )

    it.effect("a two-layer run trains on the fused engine and is compared with two GD steps and GD++", () =>
      Effect.gen(function* () {
        const config = tiny({ model: { layers: 2 } })
        const { summary, dir } = yield* regressionRun(config)
        assert.deepStrictEqual(summary.engine, { engine: "fused", backend: null, precision: "float64" })
        assert.deepStrictEqual(Object.keys(summary.references).sort(), ["bayes", "gd", "gd++"])
        assert.strictEqual(summary.final.extracted.layers.length, 2)
        // GD++ starts from two-step GD at its grid optimum and moves downhill on the grid-search tasks it is fitted on:
        // it learns an input transformation (γ ≠ 0) and predicts those tasks strictly better than GD.
        const stored = JSON.parse(readFileSync(join(dir, "references.json"), "utf8"))
        const { gammas, etas } = stored["gd++"] as { gammas: Array<number>; etas: Array<number> }
        assert.strictEqual(gammas.length, 2)
        assert.isTrue(gammas.some((g) => Math.abs(g) > 1e-3), `γ = ${gammas}`)
        const grid = headOfBatch(
          sampleRegressionTasks(config.task, config.references.gridSeed, "grid", 0, config.references.gridSize),
          config.references.gdPlusPlusTasks
        )
        const unrolled = { activation: "linear" as const, d: config.task.d, depth: 2, recurrent: false }
        const lossOn = (steps: ReadonlyArray<{ scale: number; eta: number; gamma: number }>) =>
          squaredLoss(predictBatch(unrolled, constructedWeights(unrolled, steps), grid, false).prediction, grid.target)
        const gdLoss = lossOn([{ scale: 1, eta: stored["gd"].eta, gamma: 0 }])
        const plusPlusLoss = lossOn(etas.map((eta, k) => ({ scale: 1, eta, gamma: gammas[k]! })))
        assert.isBelow(plusPlusLoss, gdLoss, "GD++ beats GD on the tasks it was fitted on")
      })
    )

    it.effect("a three-layer run ends byte-identical whether a worker thread shares its chunks or not", () =>
      Effect.gen(function* () {
        const config = (samplerThreads: number) => tiny({ model: { layers: 3 }, training: { steps: 120 }, runtime: { samplerThreads } })
        const alone = yield* regressionRun(config(0))
        const shared = yield* regressionRun(config(2))
        sameFiles(alone.dir, shared.dir)
      })
    )

    it.effect("a GP run is compared with functional GD for every attention kernel and with the posterior mean", () =>
      Effect.gen(function* () {
        const { summary, dir } = yield* regressionRun(
          tiny({ task: { family: "gp", kernel: "exp", d: 3, n: 10 }, model: { attention: "softmax" } })
        )
        assert.deepStrictEqual(Object.keys(summary.references).sort(), ["bayes", "fgd-exp", "fgd-linear", "fgd-relu", "fgd-softmax", "gd"])
        // Each reference's loss, recomputed here from its stored fit by explicit functional GD (KernelGd, not the
        // attention forward pass that the run scores with) on the evaluation set sampled afresh.
        const config = tiny({ task: { family: "gp", kernel: "exp", d: 3, n: 10 }, model: { attention: "softmax" } })
        const stored = JSON.parse(readFileSync(join(dir, "references.json"), "utf8"))
        const evalSet = sampleRegressionTasks(config.task, config.evaluation.seed, "evaluation", 0, config.evaluation.size)
        const explicitLoss = (activation: RegressionActivation, fit: { scale: number; eta: number }) =>
          squaredLoss(kernelGdPredictions(kernelTables(activation, fit.scale, evalSet), evalSet, fit.eta, 1), evalSet.target)
        for (const activation of ["linear", "relu", "exp", "softmax"] as const) {
          const fit = stored[`fgd-${activation}`]
          assert.approximately(summary.references[`fgd-${activation}`]!.loss, explicitLoss(activation, fit), FLOAT64_IDENTITY, activation)
        }
        // The model's own kernel (softmax) is its "gd" reference: the same grid optimum, scored on its own.
        assert.approximately(summary.references["gd"]!.loss, explicitLoss("softmax", stored["gd"]), FLOAT64_IDENTITY)
        assert.approximately(summary.references["fgd-softmax"]!.loss, summary.references["gd"]!.loss, FLOAT64_IDENTITY)
        for (const name of ["fgd-exp", "fgd-linear", "fgd-relu", "fgd-softmax"]) {
          assert.isBelow(summary.references["bayes"]!.loss, summary.references[name]!.loss, `the posterior mean beats ${name}`)
        }
      })
    )

    it.effect("random features: a model with an MLP embedding is compared with GD on its learned features, on x and on φ(x)", () =>
      Effect.gen(function* () {
        const task = { family: "random-features", d: 2, n: 12, features: 6 } as const
        const embedded = yield* regressionRun(tiny({ task, model: { embedding: { hidden: [8], features: 4 } } }))
        const { summary } = embedded
        assert.strictEqual(summary.engine.engine, "tfjs")
        assert.deepStrictEqual(Object.keys(summary.references).sort(), ["bayes", "gd", "gd-features"])
        const learned = summary.final.learnedFeatures!
        assert.isAbove(learned.alignment.modelCos, -1)
        // The interpolation's far end is the construction of GD on the learned features, with the trained embedding.
        assert.approximately(summary.interpolation.at(-1)!.loss, learned.loss, FLOAT64_IDENTITY)
        // Bayes (the posterior mean of w over φ(x)) beats GD on x and on φ(x).
        assert.isBelow(summary.references["bayes"]!.loss, summary.references["gd-features"]!.loss)
        assert.isBelow(summary.references["gd-features"]!.loss, summary.references["gd"]!.loss)
        const csv = readFileSync(join(embedded.dir, "per-context.csv"), "utf8").split("\n")
        assert.strictEqual(csv[0], "context,target,model,gd,bayes,gd_learned")
        const weights = JSON.parse(readFileSync(join(embedded.dir, "weights.json"), "utf8"))
        assert.deepStrictEqual(
          weights.embedding.final.map((l: { W: Array<Array<number>> }) => [l.W.length, l.W[0]!.length]),
          [[8, 2], [4, 8]]
        )
        const plain = yield* regressionRun(tiny({ task }))
        assert.strictEqual(plain.summary.engine.engine, "fused")
        assert.isUndefined(plain.summary.final.learnedFeatures)
        assert.strictEqual(plain.summary.references["gd-features"]!.loss, summary.references["gd-features"]!.loss)
      })
    )

    it.effect("an interrupted run continues from its checkpoint and ends byte-identical to an uninterrupted one", () =>
      Effect.gen(function* () {
        const long = () => tiny({ training: { steps: 3000 }, evaluation: { every: 1000 }, runtime: { checkpointEvery: 50 } })
        const reference = yield* regressionRun(long())
        const config = long()
        const dir = join(config.output.dir, runIdOf(config))
        // Interrupt as soon as the first checkpoint is in place (its rename is observed through the file system): the
        // run is then at step 50 of 3000 and stops at its next yield, whatever the machine's speed.
        const checkpointed = yield* Deferred.make<void>()
        const observed = fileSystemWith((fs) => ({
          rename: (from, to) => fs.rename(from, to).pipe(Effect.zipLeft(to.endsWith("/checkpoint.json") ? Deferred.succeed(checkpointed, undefined) : Effect.void))
        }))
        const fiber = yield* Effect.fork(regressionRun(config).pipe(Effect.provide(quietServicesWith(observed))))
        yield* Deferred.await(checkpointed)
        yield* Fiber.interrupt(fiber)
        assert.isFalse(existsSync(join(dir, "summary.json")), "interrupted before the end")
        const resumed = yield* regressionRun(config)
        assert.isFalse(resumed.reused)
        const resumedFrom = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")).resumedFromStep
        assert.isTrue(resumedFrom >= 50 && resumedFrom < 3000, `resumed from step ${resumedFrom}`)
        sameFiles(reference.dir, resumed.dir)
        assert.isTrue((yield* regressionRun(config)).reused, "a finished run is not recomputed")
      })
    )

    it.effect("resumed mid-warm-up and mid-decay, a scheduled run ends byte-identical to an uninterrupted one", () =>
      Effect.gen(function* () {
        // As for classification: 300 steps, checkpoints every 50, resumed from the step-250 checkpoint.
        // The last two train three layers on the K-layer engine.
        const settings = [
          { schedule: "cosine", warmupSteps: 280 },
          { schedule: "cosine", warmupSteps: 100, minLearningRateFactor: 0.1, clipGradientNorm: 0.1 },
          { optimizer: "sgd", momentum: 0.9, schedule: "step", warmupSteps: 20, decayEvery: 100, decayFactor: 0.3 },
          { schedule: "cosine", warmupSteps: 100, clipGradientNorm: 0.05, layers: 3 },
          { schedule: "cosine", warmupSteps: 280, layers: 3, recurrent: true }
        ] as const
        for (const { layers, recurrent, ...training } of settings.map((s) => ({ layers: 1, recurrent: false, ...s }))) {
          const config = (dir: string) =>
            tiny({
              model: { layers, recurrent },
              training: { steps: 300, ...training },
              evaluation: { every: 100 },
              runtime: { checkpointEvery: 50 },
              output: { dir }
            })
          const reference = yield* regressionRun(config(tempDir()))
          const first = yield* regressionRun(config(tempDir()))
          rmSync(join(first.dir, "summary.json"))
          rmSync(join(first.dir, "checkpoint.json"))
          const resumed = yield* regressionRun(config(join(first.dir, "..")))
          assert.isFalse(resumed.reused)
          assert.strictEqual(JSON.parse(readFileSync(join(first.dir, "run.json"), "utf8")).resumedFromStep, 250, JSON.stringify(training))
          sameFiles(reference.dir, resumed.dir)
        }
      })
    )

    it.effect("a regression sweep writes its results tables with the regression columns", () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const plan = Either.getOrThrow(
          planSweep({
            ...JSON.parse(JSON.stringify({ ...tiny(), output: { dir, progress: false } })),
            name: "kernels",
            task: { ...tiny().task, family: "gp", kernel: "relu", inputs: "sphere", d: 3 },
            sweep: { axes: { "model.attention": ["relu", "softmax"] }, seeds: [0, 1] }
          })
        )
        const { result, markdown } = yield* runSweep(plan, { concurrency: 1 })
        assert.strictEqual(result.done, 4)
        const header = readFileSync(join(result.folder, "results.csv"), "utf8").split("\n")[0]!.split(",")
        for (const column of ["kernel", "attention", "layers", "final_loss", "gd_loss", "bayes_loss", "fgd_relu_loss", "model_cos"]) {
          assert.include(header, column)
        }
        assert.include(markdown, "GD* loss")
        assert.include(markdown, "| relu |")
      })
    )
  })
})

