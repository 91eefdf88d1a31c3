/**
 * Ctrl-C as a person presses it: the README's `pnpm start run …` in a pseudo-terminal, the key typed there, for a
 * single run and for a `-j 2` sweep. Every wait is for observed progress (the terminal's progress line, the files a
 * run writes), never for a number of seconds.
 */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { decodeChecked } from "../../src/domain/Checkpoint.js"
import { root, runCli, withConfig } from "../support/cli.js"
import { CTRL_C, inTerminal, waitFor } from "../support/pty.js"

/** Files that must be byte-identical between an interrupted-and-resumed run and an uninterrupted one. */
const DETERMINISTIC = ["config.json", "metrics.jsonl", "summary.json", "per-context.csv", "weights.json", "references.json"]

/**
 * Many cheap steps: a Ctrl-C typed as soon as training shows progress lands long before the end on any machine. The
 * periodic checkpoint comes after the last step only, so a checkpoint before the end can only be the interrupt's.
 */
const config = (name: string, steps: number, extra: Record<string, unknown> = {}) => ({
  name,
  task: { n: 12 },
  model: { attention: "softmax" },
  training: { steps, batchSize: 16 },
  evaluation: { every: 1000, logSpacedPoints: 2, size: 100 },
  references: { gridSize: 100, scanSize: 50, cSigma: { min: 0.1, max: 100, count: 5 }, scale: { min: 0.01, max: 100, count: 5 } },
  runtime: { checkpointEvery: 1_000_000 },
  output: { dir: "out" },
  ...extra
})

const checkpointStepOf = (dir: string): number => {
  const decoded = decodeChecked(readFileSync(join(dir, "checkpoint.json"), "utf8"))
  assert.isTrue("payload" in decoded, `${dir}/checkpoint.json decodes`)
  return (decoded as { payload: { step: number } }).payload.step
}

const sameRun = (reference: string, resumed: string) => {
  for (const file of DETERMINISTIC) {
    assert.strictEqual(readFileSync(join(resumed, file), "utf8"), readFileSync(join(reference, file), "utf8"), `${resumed}/${file}`)
  }
}

const env = { ...process.env, LOG_LEVEL: "INFO", TERM: "xterm" }

/**
 * A config file whose output folder is absolute (pnpm runs the command in the package folder), with its sweep run once
 * uninterrupted: its folder is moved to `<dir>/reference`, so that the interrupted sweep writes the same paths.
 */
const withReference = async (value: Record<string, unknown>, args: ReadonlyArray<string> = []) => {
  const { dir, file } = withConfig({})
  writeFileSync(file, JSON.stringify({ ...value, output: { dir: join(dir, "out") } }))
  const uninterrupted = await runCli(["run", file, ...args], dir)
  assert.strictEqual(uninterrupted.status, 0, uninterrupted.stderr)
  renameSync(join(dir, "out"), join(dir, "reference"))
  return { dir, file, folder: join(dir, "out", value["name"] as string), referenceFolder: join(dir, "reference", value["name"] as string) }
}

describe("Ctrl-C in a terminal", () => {
  it("a single run: checkpoint at the step it stopped at, the line that says so, exit 130, and a rerun byte-identical to an uninterrupted run", async () => {
    const steps = 30_000
    const { dir, file, folder: sweepFolder, referenceFolder } = await withReference(config("ctrlc", steps))
    // The progress line's "<step>/<steps>" shows that training runs (it is drawn at step 1, then every 200 ms): Ctrl-C
    // is typed at its second drawing, mid-run.
    const terminal = inTerminal(`pnpm start run ${file}`, root, env)
    const progress = () => [...terminal.output().matchAll(new RegExp(`(\\d+)/${steps} `, "g"))].map((m) => Number(m[1]))
    try {
      await waitFor(() => new Set(progress()).size >= 2, "training showed progress twice", () => !terminal.hasExited())
      const seen = Math.max(...progress())
      terminal.type(CTRL_C)
      const code = await terminal.exited
      const output = terminal.output()
      const printed = /interrupted at step (\d+); rerun the same command to continue/.exec(output)
      assert.isNotNull(printed, output)
      const step = Number(printed![1])
      console.info(`terminal Ctrl-C, single run: progress showed step ${seen}, "${printed![0]}", exit ${code}`)
      assert.strictEqual(code, 130, output)
      assert.isAtLeast(step, seen)
      assert.isBelow(step, steps, "interrupted before the end")

      const runId = readdirSync(sweepFolder).find((f) => f.startsWith("ctrlc-"))!
      const runDir = join(sweepFolder, runId)
      assert.strictEqual(checkpointStepOf(runDir), step, "the checkpoint is at the step the line names")
      assert.isFalse(existsSync(join(runDir, "summary.json")))
      const manifest = JSON.parse(readFileSync(join(sweepFolder, "manifest.json"), "utf8"))
      assert.deepStrictEqual(manifest.runs.map((r: { state: string }) => r.state), ["pending"])
      assert.isFalse(existsSync(join(sweepFolder, ".lock")), "the folder's lock is released")
      assert.deepStrictEqual(readdirSync(runDir).filter((f) => f.endsWith(".tmp")), [], "no temporary files")

      const rerun = await runCli(["run", file], dir)
      assert.strictEqual(rerun.status, 0, rerun.stderr)
      assert.include(rerun.stderr, `resuming softmax attention from step ${step}`)
      sameRun(join(referenceFolder, runId), runDir)
    } finally {
      terminal.kill()
    }
  }, 600_000)

  it("a -j 2 sweep: every running run checkpoints where it stopped and says so, the manifest is pending again, exit 130, and the rerun is byte-identical", async () => {
    const sweepConfig = config("ctrlcj", 20_000, { evaluation: { every: 200, logSpacedPoints: 0, size: 50 }, sweep: { seeds: [0, 1, 2] } })
    const { dir, file, folder, referenceFolder } = await withReference(sweepConfig, ["-j", "2"])
    const terminal = inTerminal(`pnpm start run ${file} -j 2`, root, env)
    // Two runs train at once; each appends an evaluation row every 200 steps. Ctrl-C once both have written the row at step 200.
    const rowsOf = (run: string) => {
      const text = existsSync(join(folder, run, "metrics.jsonl")) ? readFileSync(join(folder, run, "metrics.jsonl"), "utf8") : ""
      return text.split("\n").filter((l) => l !== "").length
    }
    const training = () => (existsSync(folder) ? readdirSync(folder).filter((f) => f.startsWith("ctrlcj-") && rowsOf(f) >= 2) : [])
    try {
      await waitFor(() => training().length >= 2, "two runs trained past their first evaluation", () => !terminal.hasExited())
      terminal.type(CTRL_C)
      const code = await terminal.exited
      const output = terminal.output()
      assert.strictEqual(code, 130, output)
      const lines = [...output.matchAll(/run (ctrlcj-[0-9a-f]{12}): interrupted at step (\d+); rerun the same command to continue/g)]
      console.info(`terminal Ctrl-C, -j 2 sweep: ${lines.map((m) => `"${m[0]}"`).join(", ")}, exit ${code}`)
      assert.strictEqual(lines.length, 2, output)
      for (const [, run, step] of lines) {
        assert.strictEqual(checkpointStepOf(join(folder, run!)), Number(step), `${run}: the checkpoint is at the step the line names`)
        assert.isAtLeast(Number(step), 200, "the row at step 200 was written before Ctrl-C, so the run stopped at or after it")
        assert.isBelow(Number(step), 20_000)
      }
      const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8"))
      assert.deepStrictEqual(manifest.runs.map((r: { state: string }) => r.state), ["pending", "pending", "pending"])
      assert.isFalse(existsSync(join(folder, ".lock")))

      const rerun = await runCli(["run", file, "-j", "2"], dir)
      assert.strictEqual(rerun.status, 0, rerun.stderr)
      const runs = readdirSync(referenceFolder).filter((f) => f.startsWith("ctrlcj-"))
      assert.strictEqual(runs.length, 3)
      for (const run of runs) sameRun(join(referenceFolder, run), join(folder, run))
    } finally {
      terminal.kill()
    }
  }, 600_000)
})
