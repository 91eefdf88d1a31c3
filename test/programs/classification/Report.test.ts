import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { chromium } from "playwright-core"
import { QuietServicesLive } from "../../helpers.js"
import { planSweep } from "../../../src/programs/Registry.js"
import { makeReport } from "../../../src/programs/MakeReport.js"
import { runSweep } from "../../../src/programs/Sweep.js"

/** Debian's Chromium, installed by scripts/install-test-deps.sh (the README's test command). */
const CHROMIUM = "/usr/bin/chromium"

/** The quick variant of examples/figures.json (every figure at a few steps), run into a fresh folder. */
const storedSweep = () =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "icl-gd-report-"))
    const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "examples", "quick", "figures.json"), "utf8"))
    const plan = Either.getOrThrow(planSweep({ ...example, output: { dir, progress: false } }))
    const { result } = yield* runSweep(plan, { concurrency: 1 })
    return result.folder
  })

describe("classification report", () => {
  it.live(
    "makes every figure from a stored sweep, and the HTML report renders them in a real browser without console errors",
    () =>
      Effect.gen(function* () {
        const folder = yield* storedSweep()
        const report = yield* makeReport(folder)
        const expected: Record<string, ReadonlyArray<string>> = {
          alignment: ["model cos", "preds diff", "model diff", "GD* (grid optimum)", "GD at extracted parameters", "GD* in the learned basin", "softmax SA, n=16"],
          "per-context-1": ["loss", "p(correct class)", "entropy", "trained model"],
          contexts: ["d = 2", "d = 3, coordinates (1, 3)", "class 5"],
          landscape: ["c_σ (kernel inverse width)", "mean CE"],
          "final-loss": ["GD-lin*", "KGD-fixed*", "CA-KGD*", "linear SA", "exp SA", "softmax SA"],
          "c-sigma": ["learned (softmax SA)", "grid optimum, selection", "grid optimum, elimination"],
          "context-length": ["trained model", "GD reference* (extracted parameters)"]
        }
        assert.includeMembers(report.figures.map((f) => f.name), Object.keys(expected))
        for (const [name, series] of Object.entries(expected)) {
          const svg = readFileSync(join(report.dir, `${name}.svg`), "utf8")
          assert.isTrue(svg.startsWith("<svg") && svg.length > 2000, `${name}.svg is an SVG with content`)
          for (const text of series) assert.include(svg, text.replace(/&/g, "&amp;"), `${name}.svg shows "${text}"`)
          assert.isAbove(statSync(join(report.dir, `${name}.png`)).size, 5000, `${name}.png`)
          const spec = JSON.parse(readFileSync(join(report.dir, `${name}.vl.json`), "utf8"))
          assert.match(spec.$schema, /vega-lite/)
        }
        // The landscape overlays each softmax seed's trajectory, with its end point.
        const landscape = JSON.parse(readFileSync(join(report.dir, "landscape.vl.json"), "utf8"))
        const ends = landscape.layer[2].data.values
        assert.strictEqual(ends.length, 4, "4 softmax runs, one end point each")
        assert.isTrue(existsSync(join(report.dir, "report.md")))
        assert.include(readFileSync(join(report.dir, "report.md"), "utf8"), "![alignment](alignment.svg)")

        const browser = yield* Effect.promise(() =>
          chromium.launch({
            executablePath: CHROMIUM,
            args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
          })
        )
        const outcome = yield* Effect.promise(async () => {
          const page = await browser.newPage()
          const errors: Array<string> = []
          page.on("console", (message) => {
            if (message.type() === "error") errors.push(message.text())
          })
          page.on("pageerror", (error) => errors.push(error.message))
          await page.goto(pathToFileURL(join(report.dir, "report.html")).href)
          const sizes = await page.$$eval("figure svg", (svgs) => svgs.map((svg) => svg.getBoundingClientRect()).map((r) => [r.width, r.height]))
          const tables = await page.$$eval("table", (t) => t.length)
          return { errors, sizes, tables }
        }).pipe(Effect.ensuring(Effect.promise(() => browser.close())))
        assert.deepStrictEqual(outcome.errors, [])
        assert.strictEqual(outcome.sizes.length, report.figures.length, "every figure is in the page")
        for (const [width, height] of outcome.sizes) assert.isTrue(width! > 100 && height! > 100, "every figure rendered with a size")
        assert.isAtLeast(outcome.tables, 2, "aggregate and runs tables")
      }).pipe(Effect.provide(QuietServicesLive)),
    240_000
  )
})

describe("basins report", () => {
  it.live(
    "a quick basin study draws `basins` (fraction selection per setting with Wilson intervals) and the decision and predictor tables",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "icl-gd-basins-"))
        const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "examples", "quick", "basins-study.json"), "utf8"))
        const plan = Either.getOrThrow(planSweep({ ...example, output: { dir, progress: false } }))
        const { result, markdown } = yield* runSweep(plan, { concurrency: 1 })
        const report = yield* makeReport(result.folder)
        assert.includeMembers(report.figures.map((f) => f.name), ["basins", "basin-decision", "basin-predictors"])
        // The figure's fractions are the results table's: seeds whose final c_σ is positive, per case.
        const [header, ...lines] = readFileSync(join(result.folder, "results.csv"), "utf8").trim().split("\n")
        const columns = header!.split(",")
        const rows = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [columns[i]!, v])))
        const spec = JSON.parse(readFileSync(join(report.dir, "basins.vl.json"), "utf8"))
        const points = spec.data.values as Array<{ setting: string; fraction: number; lower: number; upper: number; seeds: number }>
        assert.deepStrictEqual(points.map((p) => p.setting), ["initScale=0.02", "initScale=0.2"])
        for (const [point, scale] of [[points[0]!, "0.02"], [points[1]!, "0.2"]] as const) {
          const ofCase = rows.filter((r) => r["model.initScale"] === scale)
          assert.strictEqual(point.seeds, 4)
          assert.strictEqual(point.fraction, ofCase.filter((r) => Number(r["c_sigma"]) > 0).length / 4)
          assert.isTrue(point.lower <= point.fraction && point.fraction <= point.upper)
          assert.isTrue(ofCase.every((r) => r["stopped_early_at"] !== "" && Number(r["stopped_early_at"]) < 400), "every run stopped early")
        }
        const svg = readFileSync(join(report.dir, "basins.svg"), "utf8")
        assert.include(svg, "initScale=0.2")
        assert.include(svg, "fraction of seeds in the selection basin")
        const md = readFileSync(join(report.dir, "report.md"), "utf8")
        assert.include(md, "| setting | seeds | fraction selection [95% CI] | loss selection | loss elimination | CA-KGD* | stopped early |")
        assert.include(md, "4 of 4")
        assert.include(md, "decision step: median [quartiles]")
        assert.include(md, "AUC for selection")
        // The sweep's aggregate has the same fractions, and marks the runs stopped early.
        for (const point of points) assert.include(markdown, `${Math.round(point.fraction * 4)}/4 = ${point.fraction.toFixed(2)}`)
        assert.include(markdown, "**8 runs stopped early**")
      }).pipe(Effect.provide(QuietServicesLive)),
    240_000
  )
})
