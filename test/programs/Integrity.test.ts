/**
 * Finished means verified: each way a finished run's files can be damaged is seen by status and report (the file at
 * fault named, the run left out) and repaired by a rerun, which ends byte-identical to the undamaged sweep from the
 * final checkpoint (nothing retrained); a checkpoint copied in from another run is refused.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { decodeChecked, encodeChecked, ownerOf, withOwner } from "../../src/domain/Checkpoint.js"
import { planSweep } from "../../src/programs/Registry.js"
import { finishedRuns } from "../../src/programs/ReportDocuments.js"
import { runSweep, sweepStatus } from "../../src/programs/Sweep.js"
import { QuietServicesLive } from "../helpers.js"

const STEPS = 30
const base = {
  task: { n: 16 },
  training: { steps: STEPS, batchSize: 16 },
  evaluation: { every: 10, logSpacedPoints: 0, size: 80 },
  references: { gridSize: 80, scanSize: 40, cSigma: { min: 0.1, max: 100, count: 5 }, scale: { min: 0.01, max: 100, count: 5 } },
  runtime: { checkpointEvery: 10, samplerThreads: 0 },
  output: { progress: false }
}

/** Files that must come back byte for byte after a repair. */
const RESULT_FILES = ["config.json", "metrics.jsonl", "summary.json", "per-context.csv", "weights.json", "references.json"]

const fresh = () => mkdtempSync(join(tmpdir(), "icl-gd-integrity-"))
const planOf = (value: unknown) => Either.getOrThrow(planSweep(value))
const sweep = (value: unknown) => runSweep(planOf(value), { concurrency: 1 }).pipe(Effect.provide(QuietServicesLive))
const status = (folder: string) => sweepStatus(folder).pipe(Effect.provide(QuietServicesLive))
const snapshot = (dir: string) => Object.fromEntries(RESULT_FILES.map((f) => [f, readFileSync(join(dir, f), "utf8")]))
/** results.csv without its wall-time column (the only one that differs between identical runs). */
const withoutWall = (csv: string) => {
  const lines = csv.trim().split("\n").map((l) => l.split(","))
  const index = lines[0]!.indexOf("wall_seconds")
  return lines.map((cells) => cells.filter((_, i) => i !== index).join(",")).join("\n")
}

/** Each damage a finished run's files can take, as a user or a crash would do it. */
const DAMAGES: ReadonlyArray<{ readonly name: string; readonly file: string; readonly damage: (dir: string) => void }> = [
  { name: "summary.json cut in half", file: "summary.json", damage: (dir) => writeFileSync(join(dir, "summary.json"), readFileSync(join(dir, "summary.json"), "utf8").slice(0, 200)) },
  { name: "summary.json emptied to {}", file: "summary.json", damage: (dir) => writeFileSync(join(dir, "summary.json"), "{}") },
  { name: "metrics.jsonl cut", file: "metrics.jsonl", damage: (dir) => writeFileSync(join(dir, "metrics.jsonl"), readFileSync(join(dir, "metrics.jsonl"), "utf8").slice(0, -40)) },
  { name: "weights.json deleted", file: "weights.json", damage: (dir) => rmSync(join(dir, "weights.json")) },
  { name: "per-context.csv deleted", file: "per-context.csv", damage: (dir) => rmSync(join(dir, "per-context.csv")) },
  {
    name: "references.json altered (same size)",
    file: "references.json",
    damage: (dir) => writeFileSync(join(dir, "references.json"), readFileSync(join(dir, "references.json"), "utf8").replace(/[0-8]/, (d) => String(Number(d) + 1)))
  },
  // Without digests.json (a run finished by an earlier version, or the record lost), the structure is checked.
  {
    name: "digests.json deleted and summary.json emptied",
    file: "summary.json",
    damage: (dir) => {
      rmSync(join(dir, "digests.json"))
      writeFileSync(join(dir, "summary.json"), "{}")
    }
  },
  {
    name: "digests.json deleted and metrics.jsonl cut mid-line",
    file: "metrics.jsonl",
    damage: (dir) => {
      rmSync(join(dir, "digests.json"))
      writeFileSync(join(dir, "metrics.jsonl"), readFileSync(join(dir, "metrics.jsonl"), "utf8").slice(0, -40))
    }
  }
]

describe("finished means verified", () => {
  it.effect("every kind of damage to a finished run is named by status and report, and a rerun repairs it from the final checkpoint, byte-identical", () =>
    Effect.gen(function* () {
      const dir = fresh()
      const config = { name: "sealed", ...base, output: { ...base.output, dir }, sweep: { seeds: [0, 1] } }
      yield* sweep(config)
      const folder = join(dir, "sealed")
      const [victim, other] = planOf(config).runs.map((r) => join(folder, r.id))
      const intact = { victim: snapshot(victim!), other: snapshot(other!), results: readFileSync(join(folder, "results.csv"), "utf8") }
      assert.include(yield* status(folder), "2 done, 0 running, 0 failed, 0 pending")
      assert.include(yield* status(victim!), "finished (every file as the run wrote it)")

      for (const { name, file, damage } of DAMAGES) {
        damage(victim!)
        const said = yield* status(folder)
        assert.include(said, "1 done, 0 running, 0 failed, 0 pending, 1 damaged", name)
        assert.include(said, `${victim!.split("/").pop()}: ${file}`, name)
        assert.include(yield* status(victim!), `finished, but damaged: ${file}`, `${name}: status on the run folder`)
        const forReport = yield* finishedRuns(folder).pipe(Effect.provide(QuietServicesLive))
        assert.deepStrictEqual(forReport.map((r) => r.dir), [other], `${name}: the report leaves the damaged run out`)
        assert.include(forReport.damaged[0], file, name)

        const repaired = yield* sweep(config)
        assert.strictEqual(repaired.result.done, 2, name)
        assert.strictEqual(repaired.result.reused, 1, `${name}: only the damaged run is redone`)
        assert.deepStrictEqual(snapshot(victim!), intact.victim, `${name}: repaired byte for byte`)
        assert.deepStrictEqual(snapshot(other!), intact.other, name)
        assert.strictEqual(withoutWall(readFileSync(join(folder, "results.csv"), "utf8")), withoutWall(intact.results), `${name}: no blank row`)
        const record = JSON.parse(readFileSync(join(victim!, "run.json"), "utf8"))
        assert.strictEqual(record.resumedFromStep, STEPS, `${name}: repaired from the final checkpoint, nothing retrained`)
        assert.include(readFileSync(join(victim!, "run.log"), "utf8"), "damaged", name)
      }
    })
  )

  it.effect("a checkpoint copied in from another run is refused, not resumed: the run trains from the start and ends as if it had not been there", () =>
    Effect.gen(function* () {
      const reference = fresh()
      const both = (dir: string) => ({ name: "pair", ...base, output: { ...base.output, dir }, sweep: { axes: { "model.attention": ["linear", "softmax"] } } })
      yield* sweep(both(reference))
      const [linear, softmax] = planOf(both(reference)).runs.map((r) => r.id)

      const dir = fresh()
      yield* sweep({ name: "pair", ...base, output: { ...base.output, dir }, model: { attention: "linear" } })
      const folder = join(dir, "pair")
      mkdirSync(join(folder, softmax!), { recursive: true })
      // The linear run's final checkpoint (and the one before) copied into the softmax run's folder.
      for (const file of ["checkpoint.json", "checkpoint.prev.json"]) cpSync(join(folder, linear!, file), join(folder, softmax!, file))
      yield* sweep(both(dir))
      for (const file of ["metrics.jsonl", "summary.json", "weights.json"]) {
        assert.strictEqual(readFileSync(join(folder, softmax!, file), "utf8"), readFileSync(join(reference, "pair", softmax!, file), "utf8"), file)
      }
      const log = readFileSync(join(folder, softmax!, "run.log"), "utf8")
      assert.include(log, `it belongs to run ${linear}, not to this run (${softmax})`)
      assert.strictEqual(JSON.parse(readFileSync(join(folder, softmax!, "run.json"), "utf8")).resumedFromStep, null)
    })
  )

  it.effect("status and report on a path that holds no finished run say exactly why (missing, a file, empty, not a sweep, nothing finished, a broken manifest)", () =>
    Effect.gen(function* () {
      const dir = fresh()
      const file = join(dir, "notes.txt")
      writeFileSync(file, "hello")
      mkdirSync(join(dir, "empty"))
      mkdirSync(join(dir, "other"))
      writeFileSync(join(dir, "other", "config.json"), "{}")
      mkdirSync(join(dir, "unfinished"))
      writeFileSync(join(dir, "unfinished", "manifest.json"), JSON.stringify({ name: "u", concurrency: 1, runs: [{ id: "u-1", seed: 0, axes: {}, state: "pending" }] }))
      mkdirSync(join(dir, "broken"))
      writeFileSync(join(dir, "broken", "manifest.json"), "{}")
      const cases: ReadonlyArray<readonly [string, string, string | undefined]> = [
        [join(dir, "missing"), "no such file or folder", undefined],
        [file, "is a file, not a folder", undefined],
        [join(dir, "empty"), "is an empty folder", undefined],
        [join(dir, "other"), "holds no sweep (manifest.json) and no run (config.json)", undefined],
        [join(dir, "unfinished"), "this sweep has no finished run yet (1 runs: 1 not finished, 0 failed)", "1 pending"],
        [join(dir, "broken"), "manifest.json: is not a sweep manifest", "manifest.json: is not a sweep manifest"]
      ]
      for (const [path, reportSays, statusSays] of cases) {
        const report = yield* Effect.flip(finishedRuns(path).pipe(Effect.provide(QuietServicesLive)))
        assert.strictEqual(report._tag, "NotAFolder", path)
        assert.include(report.message, reportSays, path)
        const said = yield* Effect.either(status(path))
        if (statusSays === undefined) {
          assert.isTrue(Either.isLeft(said) && said.left.message === report.message, path)
        } else {
          assert.include(Either.isLeft(said) ? said.left.message : said.right, statusSays, path)
        }
      }
    })
  )

  it("a checkpoint names its run in its header; checkpoints from before runs were named still decode", () => {
    const text = encodeChecked({ step: 3 })
    const owned = withOwner(text, "run-abc")
    assert.strictEqual(ownerOf(owned), "run-abc")
    assert.deepStrictEqual(decodeChecked(owned), { payload: { step: 3 }, owner: "run-abc" })
    assert.strictEqual(ownerOf(text), undefined)
    assert.deepStrictEqual(decodeChecked(text), { payload: { step: 3 } })
    assert.deepStrictEqual(decodeChecked(owned.replace('"step":3', '"step":4')), { problem: "checksum mismatch (truncated or altered)" })
  })
})

describe("run.json's wall time", () => {
  it.effect("adds up every process that worked on the run: the earlier ones' (from the checkpoint) and this one's", () =>
    Effect.gen(function* () {
      const dir = fresh()
      const config = { name: "wall", ...base, output: { ...base.output, dir } }
      yield* sweep(config)
      const runId = planOf(config).runs[0]!.id
      const runDir = join(dir, "wall", runId)
      const decoded = decodeChecked(readFileSync(join(runDir, "checkpoint.json"), "utf8"))
      assert.isTrue("payload" in decoded)
      const payload = (decoded as { payload: { clock: { earlier?: number } } }).payload
      assert.isAbove(payload.clock.earlier ?? 0, 0, "a checkpoint records the wall time so far")
      // As if earlier processes had worked 1000 s on the run before its final checkpoint.
      writeFileSync(join(runDir, "checkpoint.json"), withOwner(encodeChecked({ ...payload, clock: { ...payload.clock, earlier: 1000 } }), runId))
      rmSync(join(runDir, "summary.json"))
      yield* sweep(config)
      const record = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8"))
      assert.strictEqual(record.resumedFromStep, STEPS)
      assert.strictEqual(record.wallSecondsEarlierProcesses, 1000)
      assert.isAbove(record.wallSecondsThisProcess, 0)
      assert.closeTo(record.wallSeconds, 1000 + record.wallSecondsThisProcess, 1e-9)
      assert.notProperty(record.phaseSeconds, "earlier")
    })
  )
})
