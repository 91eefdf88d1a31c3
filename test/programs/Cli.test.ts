import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { runCli, withConfig } from "../support/cli.js"

/**
 * Trains the one-run `config` twice through the CLI, with the SIMD kernel and with ICL_GD_SIMD=0: run.json names each
 * kernel, and every result file is byte-identical.
 */
const assertSimdMatchesJavaScript = async (config: { readonly name: string }) => {
  const runFolder = async (extraEnv: Record<string, string>) => {
    const { dir, file } = withConfig(config)
    const result = await runCli(["run", file], dir, extraEnv)
    assert.strictEqual(result.status, 0, result.stderr)
    const sweep = join(dir, "out", config.name)
    return join(sweep, readdirSync(sweep).find((f) => f.startsWith(`${config.name}-`))!)
  }
  const simd = await runFolder({})
  const javaScript = await runFolder({ ICL_GD_SIMD: "0" })
  assert.strictEqual(JSON.parse(readFileSync(join(simd, "run.json"), "utf8")).kernel, "wasm-simd")
  assert.strictEqual(JSON.parse(readFileSync(join(javaScript, "run.json"), "utf8")).kernel, "javascript")
  for (const file of ["metrics.jsonl", "summary.json", "per-context.csv", "weights.json", "references.json"]) {
    assert.strictEqual(readFileSync(join(javaScript, file), "utf8"), readFileSync(join(simd, file), "utf8"), file)
  }
}

describe("CLI: run", () => {
  it("reports every problem of an invalid config with its path, exits 2 and writes nothing", async () => {
    const { dir, file } = withConfig({
      training: { batchSize: -3, learningRate: "fast" },
      task: { family: "spiral", d: 5 },
      model: { attention: "cubic" },
      evaluation: { every: 1.5 },
      bogus: true,
      output: { dir: "out" }
    })
    const result = await runCli(["run", file], dir)
    assert.strictEqual(result.status, 2, result.stderr)
    for (const line of [
      "training.batchSize: expected a positive integer, got -3",
      'training.learningRate: expected a positive number, got "fast"',
      'task.family: expected one of "cluster" | "voronoi" (classification) or "linear-regression" | "gp" | "random-features" (regression), got "spiral"',
      'model.attention: expected one of "linear" | "softmax" | "exp", got "cubic"',
      "evaluation.every: expected a positive integer, got 1.5",
      "bogus: is unexpected"
    ]) {
      assert.include(result.stderr, line)
    }
    assert.include(result.stderr, file)
    assert.deepStrictEqual(readdirSync(dir), ["config.json"], "nothing written")
    assert.isFalse(existsSync(join(dir, "out")))
  })

  it("rejects a file that is not JSON, and a missing file, with exit code 2", async () => {
    const { dir, file } = withConfig("{ not json")
    const notJson = await runCli(["run", file], dir)
    assert.strictEqual(notJson.status, 2)
    assert.include(notJson.stderr, `config file ${file} is not valid JSON`)
    const missing = await runCli(["run", join(dir, "nope.json")], dir)
    assert.strictEqual(missing.status, 2)
    assert.include(missing.stderr, `cannot read config file ${join(dir, "nope.json")}`)
    assert.deepStrictEqual(readdirSync(dir), ["config.json"])
  })

  it("runs a small config, prints the result and writes the run folder", async () => {
    const { dir, file } = withConfig({
      name: "cli",
      task: { n: 20 },
      model: { attention: "linear" },
      training: { steps: 30, batchSize: 32 },
      evaluation: { every: 10, size: 100 },
      references: { gridSize: 100, scanSize: 50, cSigma: { min: 0.1, max: 100, count: 5 } },
      output: { dir: "out" }
    })
    const result = await runCli(["run", file], dir)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "linear attention, 30 steps, fused engine")
    assert.match(result.stderr, /INFO {2}run finished/)
    const runs = readdirSync(join(dir, "out", "cli")).filter((f) => f.startsWith("cli-"))
    assert.strictEqual(runs.length, 1)
    assert.match(runs[0]!, /^cli-[0-9a-f]{12}$/)
    const summary = JSON.parse(readFileSync(join(dir, "out", "cli", runs[0]!, "summary.json"), "utf8"))
    assert.strictEqual(summary.steps, 30)
    const again = await runCli(["run", file], dir)
    assert.strictEqual(again.status, 0)
    assert.include(again.stdout, "finished earlier; stored results")
  })

  it("trains with the SIMD kernel, or in JavaScript with ICL_GD_SIMD=0, to byte-identical results; run.json says which", async () => {
    // Softmax attention on batches of three chunks (the second one shared with a worker thread), a C and an n that
    // fill no vector evenly.
    const config = {
      name: "kernels",
      task: { d: 3, C: 3, n: 21 },
      model: { attention: "softmax" },
      training: { steps: 60, batchSize: 71 },
      evaluation: { every: 30, size: 100 },
      references: { gridSize: 100, scanSize: 50, cSigma: { min: 0.1, max: 100, count: 5 } },
      runtime: { samplerThreads: 1 },
      output: { dir: "out", progress: false }
    }
    await assertSimdMatchesJavaScript(config)
  })

  it("trains a three-layer regression model with the SIMD kernel, or in JavaScript with ICL_GD_SIMD=0, to byte-identical results; run.json says which", async () => {
    // Linear attention, batches of three chunks (the last of 7 tasks, shared with a worker thread), d and n odd.
    const config = {
      name: "regression-kernels",
      task: { family: "linear-regression", d: 3, n: 7 },
      model: { attention: "linear", layers: 3 },
      training: { steps: 40, batchSize: 71, learningRate: 0.01 },
      evaluation: { every: 20, logSpacedPoints: 2, size: 100 },
      references: { gridSize: 100, eta: { min: 0.01, max: 100, count: 9 }, scale: { min: 0.1, max: 10, count: 5 }, gdPlusPlusIterations: 10, interpolationPoints: 3 },
      runtime: { samplerThreads: 1 },
      output: { dir: "out", progress: false }
    }
    await assertSimdMatchesJavaScript(config)
  })

  it("runs the quick regression sweep (1 and 2 layers; TensorFlow.js on an explicitly chosen wasm backend) and reports it", async () => {
    const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "examples", "quick", "regression-layers.json"), "utf8"))
    const { dir, file } = withConfig({ ...example, output: { dir: "out", progress: false } })
    const result = await runCli(["run", file], dir)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "GD++ loss")
    const folder = join(dir, "out", "regression-layers-quick")
    const rows = readFileSync(join(folder, "results.csv"), "utf8").trim().split("\n")
    assert.strictEqual(rows.length, 3)
    assert.include(rows[0], "gd_plus_plus_loss")
    // The engine each run used, as run.json records them: the fused engine (float64, no TensorFlow.js backend) for one
    // layer and for two (the K-layer kernel).
    const engines = readdirSync(folder)
      .filter((f) => f.startsWith("regression-layers-quick-"))
      .map((run) => {
        const config = JSON.parse(readFileSync(join(folder, run, "config.json"), "utf8"))
        const { engine } = JSON.parse(readFileSync(join(folder, run, "run.json"), "utf8"))
        return [config.model.layers, engine.engine, engine.backend, engine.precision]
      })
      .sort()
    assert.deepStrictEqual(engines, [
      [1, "fused", null, "float64"],
      [2, "fused", null, "float64"]
    ])
    const report = await runCli(["report", folder], dir)
    assert.strictEqual(report.status, 0, report.stderr)
    const markdown = readFileSync(join(folder, "report", "report.md"), "utf8")
    assert.include(markdown, "## Layers against GD steps")
    // One row per depth, with the stored final loss, K-step GD* and GD++ losses and alignment of that run.
    const summaries = readdirSync(folder)
      .filter((f) => f.startsWith("regression-layers-quick-"))
      .map((run) => JSON.parse(readFileSync(join(folder, run, "summary.json"), "utf8")))
      .sort((a, b) => a.model.layers - b.model.layers)
    for (const summary of summaries) {
      const cells = [
        summary.final.model.loss,
        summary.references["gd"].loss,
        summary.references["gd++"]?.loss,
        summary.final.alignment.gridOptimum.modelCos,
        summary.final.alignment.gridOptimum.predsDiff
      ].map((v: number | undefined) => (v === undefined ? "—" : v.toFixed(4)))
      assert.include(markdown, `| ${summary.model.layers} | linear | 1 | ${cells.join(" | ")} |`, `layers ${summary.model.layers}`)
    }
  })
})
