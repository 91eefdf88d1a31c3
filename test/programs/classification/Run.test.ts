import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema } from "effect"
import { formatTable, longerContexts } from "../../../examples/longer-contexts.js"
import { ExperimentConfig } from "../../../src/domain/classification/Config.js"
import { formatShiftTable, outOfDistribution } from "../../../examples/out-of-distribution.js"
import { formatFourCorners, fourCorners } from "../../../examples/four-corners.js"
import { contextFeatures, effectiveSteps } from "../../../src/domain/classification/ContextFeatures.js"
import { initWeights } from "../../../src/domain/classification/Model.js"
import { sampleTasks } from "../../../src/domain/classification/Task.js"
import { meanAndSe, pairedDifference } from "../../../src/domain/Results.js"
import { runIdOf } from "../../../src/domain/RunId.js"
import { trainRun } from "../../../src/programs/classification/Run.js"
import { loadRun } from "../../../src/programs/classification/LoadRun.js"
import { fileSystemWith, QuietServicesLive, quietServicesWith, tinyConfig } from "../../helpers.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "icl-gd-test-"))
const DETERMINISTIC_FILES = ["metrics.jsonl", "summary.json", "per-context.csv", "weights.json", "references.json"]

describe("trainRun", () => {
  layer(QuietServicesLive)((it) => {
    it.effect("the same config and seed give byte-identical results, in any folder", () =>
      Effect.gen(function* () {
        const first = yield* trainRun(tinyConfig({ output: { dir: tempDir() } }))
        const second = yield* trainRun(tinyConfig({ output: { dir: tempDir() } }))
        assert.strictEqual(first.runId, second.runId)
        for (const file of DETERMINISTIC_FILES) {
          assert.strictEqual(readFileSync(join(second.dir, file), "utf8"), readFileSync(join(first.dir, file), "utf8"), file)
        }
        const rows = readFileSync(join(first.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
        assert.deepStrictEqual(rows.map((r) => r.step), [0, 1, 3, 7, 20, 40])
        // A softmax model is also compared with the grid optimum of the basin its c_σ lies in.
        for (const row of rows) {
          assert.strictEqual(row.reference.basin, row.extracted.cSigma > 0 ? "selection" : "elimination")
          assert.isNumber(row.alignment.atBasinOptimum.modelCos)
        }
        const other = yield* trainRun(tinyConfig({ seed: 1, output: { dir: tempDir() } }))
        assert.notStrictEqual(other.runId, first.runId)
        assert.notStrictEqual(readFileSync(join(other.dir, "metrics.jsonl"), "utf8"), readFileSync(join(first.dir, "metrics.jsonl"), "utf8"))
      })
    )

    const sameFiles = (a: string, b: string) => {
      for (const file of DETERMINISTIC_FILES) {
        assert.strictEqual(readFileSync(join(b, file), "utf8"), readFileSync(join(a, file), "utf8"), file)
      }
    }
    const resumable = (dir: string, training: Partial<ExperimentConfig["training"]> = {}) =>
      tinyConfig({ training: { steps: 300, ...training }, runtime: { checkpointEvery: 50, samplerThreads: 1 }, output: { dir } })

    it.effect("a run interrupted on one worker thread continues from its checkpoint on none and ends byte-identical to an uninterrupted one", () =>
      Effect.gen(function* () {
        // Batches of three chunks, so that a worker thread shares the steps of the interrupted run.
        const long = (dir: string, samplerThreads: number) =>
          tinyConfig({ training: { steps: 2000, batchSize: 96 }, runtime: { checkpointEvery: 50, samplerThreads }, output: { dir } })
        const reference = yield* trainRun(long(tempDir(), 0))
        const config = long(tempDir(), 1)
        // Interrupt as soon as the first checkpoint is in place (its rename is observed through the file system): the
        // run is then at step 50 of 2000 and stops at its next yield, whatever the machine's speed.
        const checkpointed = yield* Deferred.make<void>()
        const observed = fileSystemWith((fs) => ({
          rename: (from, to) => fs.rename(from, to).pipe(Effect.zipLeft(to.endsWith("/checkpoint.json") ? Deferred.succeed(checkpointed, undefined) : Effect.void))
        }))
        const fiber = yield* Effect.fork(trainRun(config).pipe(Effect.provide(quietServicesWith(observed))))
        yield* Deferred.await(checkpointed)
        yield* Fiber.interrupt(fiber)
        assert.isFalse(existsSync(join(config.output.dir, runIdOf(config), "summary.json")), "interrupted before the end")
        // Interrupted with one worker thread, resumed with none (runtime settings are not part of the run's identity).
        const resumed = yield* trainRun(long(config.output.dir, 0))
        assert.strictEqual(resumed.dir, join(config.output.dir, runIdOf(config)))
        assert.isFalse(resumed.reused)
        const resumedFrom = JSON.parse(readFileSync(join(resumed.dir, "run.json"), "utf8")).resumedFromStep
        assert.isTrue(resumedFrom >= 50 && resumedFrom < 2000, `resumed from step ${resumedFrom}`)
        sameFiles(reference.dir, resumed.dir)
      })
    )

    it.effect("evaluation points shared with a helper thread give byte-identical files to one thread alone", () =>
      Effect.gen(function* () {
        // 1,201 contexts: enough for the evaluation pool to give a helper its share (EvaluationPool.MIN_SHARE), split
        // unevenly.
        const shared = (dir: string, samplerThreads: number) =>
          tinyConfig({ evaluation: { size: 1201 }, runtime: { samplerThreads }, output: { dir } })
        const alone = yield* trainRun(shared(tempDir(), 0))
        const helped = yield* trainRun(shared(tempDir(), 1))
        sameFiles(alone.dir, helped.dir)
      })
    )

    it.effect("a truncated checkpoint is detected: the previous one is used, or the run restarts", () =>
      Effect.gen(function* () {
        const reference = yield* trainRun(resumable(tempDir()))
        const config = resumable(tempDir())
        const first = yield* trainRun(config)
        // Simulate a crash after the final checkpoint, with that checkpoint cut in half.
        rmSync(join(first.dir, "summary.json"))
        const text = readFileSync(join(first.dir, "checkpoint.json"), "utf8")
        writeFileSync(join(first.dir, "checkpoint.json"), text.slice(0, text.length / 2))
        const fromPrevious = yield* trainRun(config)
        sameFiles(reference.dir, fromPrevious.dir)
        assert.strictEqual(JSON.parse(readFileSync(join(first.dir, "run.json"), "utf8")).resumedFromStep, 250)
        const log = readFileSync(join(first.dir, "run.log"), "utf8")
        assert.include(log, "ignoring checkpoint checkpoint.json: checksum mismatch")
        // Both checkpoints damaged: start over, same result.
        rmSync(join(first.dir, "summary.json"))
        writeFileSync(join(first.dir, "checkpoint.json"), "garbage")
        writeFileSync(join(first.dir, "checkpoint.prev.json"), "")
        const restarted = yield* trainRun(config)
        sameFiles(reference.dir, restarted.dir)
        assert.isNull(JSON.parse(readFileSync(join(first.dir, "run.json"), "utf8")).resumedFromStep)
      })
    )

    it.effect("resumed mid-warm-up and mid-decay, a scheduled run ends byte-identical to an uninterrupted one", () =>
      Effect.gen(function* () {
        // 300 steps with checkpoints every 50: the run resumes from its step-250 checkpoint (checkpoint.prev.json) once
        // the final one is gone. Step 250 lies in the warm-up of the first schedule and in the cosine (or step) decay
        // of the others; SGD with momentum and clipping resumes its momentum buffer.
        const settings = [
          { schedule: "cosine", warmupSteps: 280 },
          { schedule: "cosine", warmupSteps: 100, minLearningRateFactor: 0.1, clipGradientNorm: 0.5 },
          { optimizer: "sgd", learningRate: 0.5, momentum: 0.9, schedule: "step", warmupSteps: 20, decayEvery: 100, decayFactor: 0.3 }
        ] as const
        for (const training of settings) {
          const config = (dir: string) => resumable(dir, training)
          const reference = yield* trainRun(config(tempDir()))
          const first = yield* trainRun(config(tempDir()))
          rmSync(join(first.dir, "summary.json"))
          rmSync(join(first.dir, "checkpoint.json"))
          const resumed = yield* trainRun(config(join(first.dir, "..")))
          assert.isFalse(resumed.reused)
          assert.strictEqual(JSON.parse(readFileSync(join(first.dir, "run.json"), "utf8")).resumedFromStep, 250, JSON.stringify(training))
          sameFiles(reference.dir, resumed.dir)
        }
        // The schedule changes what is learned: the runs differ from a constant-rate run.
        const constant = yield* trainRun(resumable(tempDir()))
        const warm = yield* trainRun(resumable(tempDir(), settings[0]))
        assert.notStrictEqual(readFileSync(join(warm.dir, "weights.json"), "utf8"), readFileSync(join(constant.dir, "weights.json"), "utf8"))
      })
    )

    it.effect("early stopping ends a run once its basin is decided, says so, and resumes to the same stop", () =>
      Effect.gen(function* () {
        const config = (dir: string, basinDecided: boolean) =>
          tinyConfig({
            training: { steps: 2000 },
            earlyStop: { basinDecided, minCSigma: 0.3, patience: 100 },
            runtime: { checkpointEvery: 50 },
            output: { dir }
          })
        const full = yield* trainRun(config(tempDir(), false))
        const early = yield* trainRun(config(tempDir(), true))
        const stop = early.summary.stoppedEarly
        assert.isDefined(stop)
        assert.isBelow(stop!.step, 2000)
        assert.include(stop!.rule, "|c_σ| ≥ 0.3")
        assert.isUndefined(full.summary.stoppedEarly)
        assert.notStrictEqual(early.runId, full.runId, "early stopping is part of the run's identity")
        // Training up to the stop is the full run's: its rows are the full run's first rows.
        const rowsOf = (dir: string) => readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n")
        const earlyRows = rowsOf(early.dir)
        assert.deepStrictEqual(earlyRows, rowsOf(full.dir).slice(0, earlyRows.length))
        assert.strictEqual(JSON.parse(earlyRows.at(-1)!).step, stop!.step)
        assert.strictEqual(early.summary.final.step, stop!.step)
        assert.strictEqual(early.summary.basinDecision?.basin, full.summary.basinDecision?.basin, "the basin at the stop is the final one")
        // A crash after the stop's checkpoint: the rerun stops at the same step with the same files.
        rmSync(join(early.dir, "summary.json"))
        const again = yield* trainRun(config(join(early.dir, ".."), true))
        assert.isFalse(again.reused)
        assert.strictEqual(JSON.parse(readFileSync(join(early.dir, "run.json"), "utf8")).resumedFromStep, stop!.step)
        assert.deepStrictEqual(again.summary.stoppedEarly, stop)
        assert.deepStrictEqual(rowsOf(again.dir), earlyRows)
      })
    )

    it.effect("every task family × attention kind trains end to end and reports its matching reference", () =>
      Effect.gen(function* () {
        for (const family of ["cluster", "voronoi"] as const) {
          for (const attention of ["linear", "softmax", "exp"] as const) {
            const result = yield* trainRun(
              tinyConfig({ task: { family, balanced: family === "cluster" }, model: { attention }, training: { steps: 300 }, output: { dir: tempDir() } })
            )
            const { final } = result.summary
            const expected = attention === "linear" ? "gd-linear" : attention === "softmax" ? "ca-kgd" : "kgd-fixed"
            assert.strictEqual(final.reference.kind, expected, `${family}/${attention}`)
            assert.isTrue(Number.isFinite(final.model.loss) && Number.isFinite(final.alignment.atExtracted.modelCos), `${family}/${attention}`)
            // Real learning: at init scale 0.02 the model predicts near-uniformly (loss ≈ log 5 ≈ 1.61 at step 0), and
            // without training it stays there. After 300 steps the loss must be at least 0.1 nats lower (softmax, the
            // slowest, gets about 0.28 lower), on the way to its grid-optimal reference.
            const rows = readFileSync(join(result.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
            const initial = rows[0].model.loss as number
            const reference = final.reference.atGridOptimum.loss
            assert.approximately(initial, Math.log(5), 0.05, `${family}/${attention}: an untrained model is near-uniform`)
            assert.isBelow(reference, initial, `${family}/${attention}: the reference beats an untrained model`)
            assert.isBelow(final.model.loss, initial - 0.1, `${family}/${attention}: ${initial} → ${final.model.loss}, reference ${reference}`)
          }
        }
      })
    )

    it.effect("a finished run is reused, not recomputed", () =>
      Effect.gen(function* () {
        const config = tinyConfig({ output: { dir: tempDir() } })
        const first = yield* trainRun(config)
        const before = readFileSync(join(first.dir, "run.json"), "utf8")
        const again = yield* trainRun(config)
        assert.isFalse(first.reused)
        assert.isTrue(again.reused)
        assert.deepStrictEqual(again.summary, first.summary)
        assert.strictEqual(readFileSync(join(first.dir, "run.json"), "utf8"), before)
      })
    )

    it.effect("a run writes every output file, each with the content it should hold, and no temporary file survives", () =>
      Effect.gen(function* () {
        const config = tinyConfig({ model: { attention: "linear" }, output: { dir: tempDir() } })
        const result = yield* trainRun(config)
        for (const file of [...DETERMINISTIC_FILES, "config.json", "run.json", "run.log"]) assert.isTrue(existsSync(join(result.dir, file)), file)
        assert.deepStrictEqual(readdirSync(result.dir).filter((f) => f.endsWith(".tmp")), [])
        const json = (file: string) => JSON.parse(readFileSync(join(result.dir, file), "utf8"))
        // config.json: the resolved config, which decodes through its schema back to the config that ran.
        assert.deepStrictEqual(Schema.decodeUnknownSync(ExperimentConfig)(json("config.json")), config)
        // run.json: how it ran.
        const run = json("run.json")
        assert.strictEqual(run.runId, result.runId)
        assert.strictEqual(run.status, "finished")
        assert.deepStrictEqual(run.engine, result.summary.engine)
        assert.isNull(run.resumedFromStep)
        assert.isAbove(run.wallSeconds, 0)
        assert.isAtLeast(Date.parse(run.finishedAt), Date.parse(run.startedAt))
        const phases = run.phaseSeconds as Record<string, number>
        assert.deepStrictEqual(Object.keys(phases).sort(), ["checkpoints", "evaluation", "references", "training"])
        assert.isAtMost(Object.values(phases).reduce((a, b) => a + b, 0), run.wallSeconds + 1e-3, "the phases fit in the wall time")
        // weights.json: the initial weights are the initialisation of (seed, init scale); the final ones moved.
        const weights = json("weights.json")
        const s = { attention: "linear" as const, attendToQuery: true, expShift: 0, d: config.task.d, C: config.task.C }
        const init = initWeights(s, config.seed, config.model.initScale)
        assert.deepStrictEqual(weights.initial.W_KQ.flat(), Array.from(init.kq))
        assert.deepStrictEqual(weights.initial.W_PV.flat(), Array.from(init.pv))
        assert.notDeepEqual(weights.final.W_KQ, weights.initial.W_KQ)
        assert.strictEqual(weights.D, config.task.d + config.task.C)
        // references.json: the grids whose optima the summary reports, with a landscape over both signs of c_σ.
        const grids = json("references.json")
        const kinds = Object.keys(result.summary.references).sort()
        assert.includeMembers(kinds, ["ca-kgd", "gd-linear", "kgd-fixed"])
        assert.deepStrictEqual(Object.keys(grids).sort(), kinds)
        for (const kind of kinds as Array<keyof typeof result.summary.references>) {
          assert.deepStrictEqual(grids[kind].best, result.summary.references[kind]!.best, kind)
        }
        assert.strictEqual(grids["ca-kgd"].landscape.loss.length, 2 * config.references.cSigma.count)
        const csv = readFileSync(join(result.dir, "per-context.csv"), "utf8").trim().split("\n")
        assert.strictEqual(csv.length, 1 + 200)
        const log = readFileSync(join(result.dir, "run.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
        assert.isTrue(log.some((r) => r.message === "run finished" && r.level === "INFO"))
        assert.isNull(result.summary.final.extracted.solution, "linear attention has no selection/elimination label")
        assert.isNull(result.summary.final.alignment.atBasinOptimum)
      })
    )

    it.effect("final metrics carry their SE over contexts and paired model − reference differences, recomputable from per-context.csv", () =>
      Effect.gen(function* () {
        const config = tinyConfig({ training: { steps: 200 }, output: { dir: tempDir() } })
        const { summary, dir } = yield* trainRun(config)
        const u = summary.uncertainty!
        assert.strictEqual(u.contexts, 200)
        const [header, ...lines] = readFileSync(join(dir, "per-context.csv"), "utf8").trim().split("\n")
        const columns = header!.split(",")
        const column = (name: string) => lines.map((l) => Number(l.split(",")[columns.indexOf(name)]))
        // per-context.csv keeps 8 significant digits: the SEs recomputed from it agree to about 1e-7 relative.
        const close = (actual: number, expected: number, what: string) =>
          assert.isBelow(Math.abs(actual - expected), 1e-6 * Math.max(1e-3, Math.abs(expected)), `${what}: ${actual} vs ${expected}`)
        close(u.model.loss, meanAndSe(column("model_loss")).se, "SE of the model's loss")
        close(u.reference.atGridOptimum.pCorrect, meanAndSe(column("grid_p_correct")).se, "SE of the grid optimum's p(correct)")
        const gap = pairedDifference(column("model_loss"), column("grid_loss"))
        close(u.modelMinusReference.atGridOptimum.loss.mean, gap.mean, "paired loss gap")
        close(u.modelMinusReference.atGridOptimum.loss.se, gap.se, "its paired SE")
        close(u.modelMinusReference.atExtracted.entropy.se, pairedDifference(column("model_entropy"), column("extracted_entropy")).se, "paired entropy SE")
        // What each context offers its query, as stored, equals its definition on the evaluation set.
        const set = sampleTasks(config.task, config.evaluation.seed, "evaluation", 0, config.evaluation.size)
        const features = contextFeatures(set)
        assert.deepStrictEqual(column("same_class"), Array.from(features.sameClass))
        column("similarity").forEach((v, t) => close(v, features.similarity[t]!, `similarity ${t}`))
        const steps = effectiveSteps({ D: 10, selfAttend: false }, summary.final.extracted.params, set)
        column("effective_step").forEach((v, t) => close(v, steps[t]!, `effective step ${t}`))
        // Every reference, the fourth (linear kernel, adaptive step) included, with its SE.
        for (const kind of ["gd-linear", "kgd-fixed", "ca-kgd", "ca-gd-linear"] as const) {
          const reference = summary.references[kind]!
          assert.isAbove(reference.evaluationSe!.loss, 0, kind)
          assert.isBelow(reference.evaluation.loss, Math.log(5), kind)
        }
        assert.isUndefined(summary.evaluationSets, "no extra evaluation sets unless evaluation.seeds asks")
      })
    )

    it.effect("evaluation.seeds scores the final model and every reference again on independent sets", () =>
      Effect.gen(function* () {
        const { summary } = yield* trainRun(tinyConfig({ evaluation: { seeds: [7, 8] }, output: { dir: tempDir() } }))
        const { sets, lossSpread } = summary.evaluationSets!
        assert.deepStrictEqual(sets.map((s) => s.seed), [1001, 7, 8])
        assert.deepStrictEqual(sets[0]!.model, summary.final.model, "the first set is the main evaluation set")
        assert.strictEqual(sets[0]!.references["ca-kgd"].loss, summary.references["ca-kgd"].evaluation.loss)
        assert.strictEqual(sets[0]!.atExtracted.loss, summary.final.reference.atExtracted.loss)
        assert.notStrictEqual(sets[1]!.model.loss, sets[0]!.model.loss, "another set, other contexts")
        assert.notStrictEqual(sets[2]!.references["gd-linear"].loss, sets[1]!.references["gd-linear"].loss)
        const losses = sets.map((s) => s.references["kgd-fixed"].loss)
        const mean = losses.reduce((a, b) => a + b, 0) / 3
        assert.closeTo(lossSpread.references["kgd-fixed"].mean, mean, 1e-12)
        assert.closeTo(lossSpread.references["kgd-fixed"].sd, Math.sqrt(losses.reduce((a, l) => a + (l - mean) ** 2, 0) / 2), 1e-12)
        assert.strictEqual(lossSpread.model.count, 3)
        for (const s of sets) assert.isAbove(s.modelSe.loss, 0)
      })
    )

    it.effect("a short run reaches the same metrics on the fused and the TensorFlow.js engine", () =>
      Effect.gen(function* () {
        const fused = yield* trainRun(tinyConfig({ model: { engine: "fused" }, output: { dir: tempDir() } }))
        const tfjs = yield* trainRun(tinyConfig({ model: { engine: "tfjs" }, output: { dir: tempDir() } }))
        assert.strictEqual(fused.summary.engine.engine, "fused")
        assert.strictEqual(tfjs.summary.engine.engine, "tfjs")
        assert.include(["tfjs-node", "wasm", "cpu"], tfjs.summary.engine.backend)
        const auto = yield* trainRun(tinyConfig({ output: { dir: tempDir() } }))
        assert.strictEqual(auto.summary.engine.engine, "fused", "auto picks the fused engine for this model family")
        // 40 Adam steps in float32 against float64: Adam's normalised steps keep the two within about 1e-5; 1e-3 is
        // far below any difference a wrong gradient would make.
        const a = fused.summary.final
        const b = tfjs.summary.final
        for (const [what, x, y] of [
          ["loss", a.model.loss, b.model.loss],
          ["accuracy", a.model.accuracy, b.model.accuracy],
          ["c_σ", a.extracted.cSigma!, b.extracted.cSigma!],
          ["model cos", a.alignment.atExtracted.modelCos, b.alignment.atExtracted.modelCos]
        ] as const) {
          assert.isBelow(Math.abs(x - y) / Math.max(Math.abs(x), 1e-12), 1e-3, what)
        }
      })
    )

    it.effect("the TensorFlow.js engine's read-ahead (batches sampled on worker threads) gives the files of inline sampling", () =>
      Effect.gen(function* () {
        const run = (samplerThreads: number) =>
          trainRun(tinyConfig({ model: { engine: "tfjs" }, training: { steps: 60 }, runtime: { samplerThreads }, output: { dir: tempDir() } }))
        const inline = yield* run(0)
        const readAhead = yield* run(2)
        assert.strictEqual(readAhead.summary.engine.engine, "tfjs")
        sameFiles(inline.dir, readAhead.dir)
      })
    )

    it.effect("divergence fails the run with TrainingDiverged and no summary", () =>
      Effect.gen(function* () {
        const config = tinyConfig({ training: { learningRate: 1e6, steps: 60 }, model: { attention: "exp" }, output: { dir: tempDir() } })
        const error = yield* Effect.flip(trainRun(config))
        assert.strictEqual(error._tag, "TrainingDiverged")
        const dir = readdirSync(config.output.dir)[0]!
        assert.isFalse(existsSync(join(config.output.dir, dir, "summary.json")))
      })
    )

    it.effect("a run stored before the training options existed is loaded with their defaults", () =>
      Effect.gen(function* () {
        const run = yield* trainRun(tinyConfig({ model: { attention: "linear" }, output: { dir: tempDir() } }))
        const file = join(run.dir, "config.json")
        const before = yield* loadRun(run.dir)
        const stored = JSON.parse(readFileSync(file, "utf8"))
        for (const field of ["momentum", "schedule", "warmupSteps", "minLearningRateFactor", "decayEvery", "decayFactor", "clipGradientNorm"]) {
          delete stored.training[field]
        }
        for (const field of ["initDistribution", "initA", "initB"]) delete stored.model[field]
        delete stored.earlyStop
        writeFileSync(file, JSON.stringify(stored))
        const loaded = yield* loadRun(run.dir)
        assert.strictEqual(loaded.config.training.schedule, "constant")
        assert.strictEqual(loaded.config.model.initDistribution, "normal")
        assert.isFalse(loaded.config.earlyStop.basinDecided)
        assert.deepStrictEqual(loaded.config, before.config)
        assert.strictEqual(runIdOf(loaded.config), runIdOf(before.config), "and it keeps its run id")
      })
    )

    it.effect("the example program evaluates a stored run on shifted tasks; in distribution it gives the stored final losses", () =>
      Effect.gen(function* () {
        const run = yield* trainRun(tinyConfig({ model: { attention: "linear" }, training: { steps: 400 }, output: { dir: tempDir() } }))
        const rows = yield* outOfDistribution(run.dir)
        assert.include(formatShiftTable(rows), "model − reference")
        assert.deepStrictEqual(rows.map((r) => r.name), [
          "in distribution",
          "inputs ×0.5",
          "inputs ×2",
          "noise 0.25",
          "noise 1",
          "imbalanced (ρ = 10)",
          "query's class absent",
          "2 of 5 classes present"
        ])
        const [inDistribution] = rows
        assert.strictEqual(inDistribution!.model.loss, run.summary.final.model.loss)
        assert.strictEqual(inDistribution!.atExtracted.loss, run.summary.final.reference.atExtracted.loss)
        assert.strictEqual(inDistribution!.atGridOptimum.loss, run.summary.final.reference.atGridOptimum.loss)
        assert.strictEqual(inDistribution!.modelSe.loss, run.summary.uncertainty!.model.loss)
        const absent = rows.find((r) => r.name === "query's class absent")!
        assert.isBelow(absent.model.accuracy, inDistribution!.model.accuracy, "a selection rule cannot name a class it has not seen")
        // Linear attention is the GD step under every shift: its logits scale with the inputs, like GD-lin's.
        for (const row of rows) assert.isAbove(row.modelCos, 0.9, row.name)
      })
    )

    it.effect("the four-corner program scores the four grid optima as the run stored them, with paired effects on the same contexts", () =>
      Effect.gen(function* () {
        const run = yield* trainRun(tinyConfig({ evaluation: { seeds: [1002] }, output: { dir: tempDir() } }))
        const sets = yield* fourCorners(run.dir)
        assert.deepStrictEqual(sets.map((s) => s.seed), [tinyConfig().evaluation.seed, 1002], "the main evaluation set, then each of evaluation.seeds")
        const [main, other] = sets
        for (const corner of main!.corners) {
          const stored = run.summary.references[corner.kind]!
          assert.strictEqual(corner.performance.loss, stored.evaluation.loss, `${corner.label}: the stored loss on the same set`)
          assert.strictEqual(corner.se.loss, stored.evaluationSe!.loss, `${corner.label}: the stored SE`)
          assert.deepStrictEqual([corner.cSigma, corner.scale], [stored.best.cSigma, stored.best.scale])
        }
        assert.notStrictEqual(other!.corners[0]!.performance.loss, main!.corners[0]!.performance.loss, "another set, another loss")
        const loss = (set: (typeof sets)[number], kind: string) => set.corners.find((c) => c.kind === kind)!.performance.loss
        for (const set of sets) {
          const [linearAdaptive, expAdaptive, expFixed, expAdaptiveOverLinear] = set.effects
          // A paired difference's mean is the difference of the means; its SE is that of the per-context differences.
          assert.closeTo(linearAdaptive!.difference.loss.mean, loss(set, "ca-gd-linear") - loss(set, "gd-linear"), 1e-12)
          assert.closeTo(expAdaptive!.difference.loss.mean, loss(set, "ca-kgd") - loss(set, "kgd-fixed"), 1e-12)
          assert.closeTo(expFixed!.difference.loss.mean, loss(set, "kgd-fixed") - loss(set, "gd-linear"), 1e-12)
          assert.closeTo(expAdaptiveOverLinear!.difference.loss.mean, loss(set, "ca-kgd") - loss(set, "ca-gd-linear"), 1e-12)
        }
        assert.include(formatFourCorners(sets), "CA-KGD* − KGD-fixed*")
      })
    )

    it.effect("the example program evaluates a trained run at other context lengths", () =>
      Effect.gen(function* () {
        const run = yield* trainRun(tinyConfig({ model: { attention: "linear" }, training: { steps: 400 }, output: { dir: tempDir() } }))
        const rows = yield* longerContexts(run.dir, [10, 80])
        assert.include(formatTable(rows), "model loss")
        assert.deepStrictEqual(rows.map((r) => r.n), [10, 80])
        for (const row of rows) {
          assert.isTrue(Number.isFinite(row.modelLoss) && Number.isFinite(row.referenceLoss))
          assert.isAbove(row.modelCos, 0.9, "a trained linear SA stays aligned with GD at other n")
        }
        assert.isBelow(rows[1]!.referenceLoss, rows[0]!.referenceLoss, "more context helps the GD step")
      })
    )
  })
})
