import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { QuietServicesLive } from "../../helpers.js"
import { planSweep } from "../../../src/programs/Registry.js"
import { makeReport } from "../../../src/programs/MakeReport.js"
import { runSweep } from "../../../src/programs/Sweep.js"

describe("regression report", () => {
  it.live(
    "a regression sweep gets its own report: alignment, loss and interpolation figures and the kernel × attention table",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "icl-gd-report-"))
        const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "examples", "quick", "functions-kernels.json"), "utf8"))
        const { result } = yield* runSweep(Either.getOrThrow(planSweep({ ...example, output: { dir, progress: false } })), { concurrency: 1 })
        const report = yield* makeReport(result.folder)
        assert.deepStrictEqual(report.figures.map((f) => f.name), ["alignment", "loss", "interpolation"])
        for (const figure of report.figures) {
          for (const text of ["kernel=exp", "kernel=relu", "softmax SA", "relu SA"]) assert.include(figure.svg, text, figure.name)
          assert.isAbove(statSync(join(report.dir, `${figure.name}.png`)).size, 5000)
        }
        const markdown = readFileSync(join(report.dir, "report.md"), "utf8")
        assert.include(markdown, "## Function kernel × attention activation")
        // One row per function kernel, with the best activation marked and the verdict on the matching one.
        assert.match(markdown, /\| relu \| [^\n]+ \| (relu|exp|softmax) \| (yes|no \(relu ranks [23] of 3\)) \| (relu \(matches\)|exp \(does not match\)) \|/)
        assert.match(markdown, /\| exp \| [^\n]+ \| (relu|exp|softmax) \| (yes|no \(exp ranks [23] of 3\)) \| (exp \(matches\)|relu \(does not match\)) \|/)
        assert.include(markdown, "| function kernel | FGD relu | FGD exp | FGD softmax | best | Bayes |")
        assert.include(readFileSync(join(report.dir, "report.html"), "utf8"), "<h2>Function kernel × attention activation</h2>")
      }).pipe(Effect.provide(QuietServicesLive)),
    120_000
  )
})
