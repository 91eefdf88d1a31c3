import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { formatTable, longerContexts } from "../../../examples/longer-contexts.js"
import type { ExperimentConfig } from "../../../src/domain/classification/Config.js"
import { runIdOf } from "../../../src/domain/RunId.js"
import { trainRun } from "../../../src/programs/classification/Run.js"
import { QuietServicesLive, tinyConfig } from "../../helpers.js"

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

    it.effect("an interrupted run continues from its checkpoint and ends byte-identical to an uninterrupted one on another number of threads", () =>
      Effect.gen(function* () {
        // Batches of three chunks, so that a worker thread shares the steps of the interrupted run.
        const long = (dir: string, samplerThreads: number) =>
          tinyConfig({ training: { steps: 2000, batchSize: 96 }, runtime: { checkpointEvery: 50, samplerThreads }, output: { dir } })
        const reference = yield* trainRun(long(tempDir(), 0))
        const config = long(tempDir(), 1)
        const checkpoint = join(config.output.dir, runIdOf(config), "checkpoint.json")
        // Interrupt as soon as the first checkpoint exists: mid-run, whatever the machine's speed.
        const fiber = yield* Effect.fork(trainRun(config))
        yield* Effect.promise(
          () =>
            new Promise<void>((resolve) => {
              const poll = setInterval(() => {
                if (existsSync(checkpoint)) {
                  clearInterval(poll)
                  resolve()
                }
              }, 2)
            })
        )
        yield* Fiber.interrupt(fiber)
        assert.isFalse(existsSync(join(config.output.dir, runIdOf(config), "summary.json")), "interrupted before the end")
        const resumed = yield* trainRun(config)
        assert.isFalse(resumed.reused)
        assert.isAbove(JSON.parse(readFileSync(join(resumed.dir, "run.json"), "utf8")).resumedFromStep, 0)
        sameFiles(reference.dir, resumed.dir)
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
            assert.isBelow(final.model.loss, Math.log(5), `${family}/${attention} learned something`)
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

    it.effect("a run writes every output file and no temporary file survives", () =>
      Effect.gen(function* () {
        const result = yield* trainRun(tinyConfig({ model: { attention: "linear" }, output: { dir: tempDir() } }))
        for (const file of [...DETERMINISTIC_FILES, "config.json", "run.json", "run.log"]) assert.isTrue(existsSync(join(result.dir, file)), file)
        assert.deepStrictEqual(readdirSync(result.dir).filter((f) => f.endsWith(".tmp")), [])
        const csv = readFileSync(join(result.dir, "per-context.csv"), "utf8").trim().split("\n")
        assert.strictEqual(csv.length, 1 + 200)
        const log = readFileSync(join(result.dir, "run.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
        assert.isTrue(log.some((r) => r.message === "run finished" && r.level === "INFO"))
        assert.isNull(result.summary.final.extracted.solution, "linear attention has no selection/elimination label")
        assert.isNull(result.summary.final.alignment.atBasinOptimum)
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

    it.effect("divergence fails the run with TrainingDiverged and no summary", () =>
      Effect.gen(function* () {
        const config = tinyConfig({ training: { learningRate: 1e6, steps: 60 }, model: { attention: "exp" }, output: { dir: tempDir() } })
        const error = yield* Effect.flip(trainRun(config))
        assert.strictEqual(error._tag, "TrainingDiverged")
        const dir = readdirSync(config.output.dir)[0]!
        assert.isFalse(existsSync(join(config.output.dir, dir, "summary.json")))
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
