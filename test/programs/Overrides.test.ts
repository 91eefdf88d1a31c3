/**
 * The CLI a researcher expects: `--set path=value` (repeatable, decoded and validated like the file, recorded in
 * sweep.json) and `--out DIR`. A run set from the command line is the run written in the file: the same id.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { parseSweepText } from "../../src/programs/LoadConfig.js"
import { runCli, withConfig } from "../support/cli.js"

const base = { name: "over", task: { n: 20 }, sweep: { seeds: [0, 1] } }
const planned = (config: unknown, overrides: Parameters<typeof parseSweepText>[2]) => parseSweepText(JSON.stringify(config), "cfg.json", overrides)

describe("--set and --out", () => {
  it("--set gives the runs the file would give with the same fields written in it (the same ids), and sweep.json records it", () => {
    const set = Either.getOrThrow(planned(base, { set: ["task.n=50", "model.attention=linear", "sweep.seeds=[3]", 'sweep.axes.task.noise=[0.1,0.3]'] }))
    const written = Either.getOrThrow(
      planned({ ...base, task: { n: 50 }, model: { attention: "linear" }, sweep: { seeds: [3], axes: { "task.noise": [0.1, 0.3] } } }, {})
    )
    assert.deepStrictEqual(set.runs.map((r) => r.id), written.runs.map((r) => r.id))
    assert.strictEqual(set.runs.length, 2)
    assert.deepStrictEqual(set.definition.set, ["task.n=50", "model.attention=linear", "sweep.seeds=[3]", "sweep.axes.task.noise=[0.1,0.3]"])
    assert.notProperty(written.definition, "set")
  })

  it("--out sets the output folder and leaves run ids alone", () => {
    const out = Either.getOrThrow(planned(base, { out: "/tmp/elsewhere" }))
    const plain = Either.getOrThrow(planned(base, {}))
    assert.strictEqual(out.outputDir, "/tmp/elsewhere")
    assert.deepStrictEqual(out.runs.map((r) => r.id), plain.runs.map((r) => r.id))
    assert.notProperty(out.definition, "set")
  })

  it("a bad --set is refused with what was typed: unknown fields, no '=', values the field does not take", () => {
    const messages = (set: ReadonlyArray<string>) => {
      const result = planned(base, { set })
      assert.isTrue(Either.isLeft(result), set.join(" "))
      return Either.isLeft(result) ? result.left.message : ""
    }
    assert.include(messages(["task.zz=1"]), '--set task.zz=1: no such config field "task.zz"')
    assert.include(messages(["task.n"]), "--set task.n: expected path=value")
    assert.include(messages(["output.dir=x", "sweep.axes.bogus=[1]"]), "no such config field")
    assert.include(messages(["task.n=-5"]), "task.n: expected a positive integer, got -5 (from --set task.n=-5)")
    assert.include(messages(["model.attention=cubic"]), 'model.attention: expected one of "linear" | "softmax" | "exp", got "cubic" (from --set model.attention=cubic)')
    assert.include(messages(["sweep.seeds=[\"0\"]"]), 'sweep.seeds[0]: expected a non-negative integer, got "0"')
  })

  it("through the CLI: --set and --out as a person types them", async () => {
    const { dir, file } = withConfig({
      name: "cli-set",
      training: { steps: 5, batchSize: 16 },
      evaluation: { every: 5, size: 50, logSpacedPoints: 0 },
      references: { gridSize: 50, scanSize: 20, cSigma: { min: 0.1, max: 10, count: 3 }, scale: { min: 0.1, max: 10, count: 3 } },
      output: { progress: false }
    })
    const result = await runCli(["run", file, "--set", "task.n=12", "--set", "model.attention=linear", "--out", "elsewhere", "-j", "1"], dir)
    assert.strictEqual(result.status, 0, result.stderr)
    const folder = join(dir, "elsewhere", "cli-set")
    assert.deepStrictEqual(JSON.parse(readFileSync(join(folder, "sweep.json"), "utf8")).set, ["task.n=12", "model.attention=linear"])
    const run = readdirSync(folder).find((f) => f.startsWith("cli-set-"))!
    const config = JSON.parse(readFileSync(join(folder, run, "config.json"), "utf8"))
    assert.strictEqual(config.task.n, 12)
    assert.strictEqual(config.model.attention, "linear")
    assert.isFalse(existsSync(join(dir, "runs")), "nothing in the config's own output folder")
    const bad = await runCli(["run", file, "--set", "task.n=0"], dir)
    assert.strictEqual(bad.status, 2)
    assert.include(bad.stderr, "task.n: expected a positive integer, got 0 (from --set task.n=0)")
  })
})
