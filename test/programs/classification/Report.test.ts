import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { beforeAll } from "vitest"
import { QuietServicesLive, tinyConfig } from "../../helpers.js"
import { openInChromium } from "../../support/browser.js"
import { evaluateShifts } from "../../../src/programs/classification/OutOfDistribution.js"
import { planSweep } from "../../../src/programs/Registry.js"
import { makeReport } from "../../../src/programs/MakeReport.js"
import type { Report } from "../../../src/programs/ReportDocuments.js"
import { runSweep } from "../../../src/programs/Sweep.js"
import { type RunSummary, trainRun } from "../../../src/programs/classification/Run.js"


/** The quick variant of examples/figures.json (every figure at a few steps), run into a fresh folder. */
const storedSweep = () =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "icl-gd-report-"))
    const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "examples", "quick", "figures.json"), "utf8"))
    const plan = Either.getOrThrow(planSweep({ ...example, output: { dir, progress: false } }))
    const { result } = yield* runSweep(plan, { concurrency: 1 })
    return result.folder
  })

/** A stored run as the test reads it back, independently of the report's own loader. */
interface Stored {
  readonly attention: string
  readonly n: number
  readonly seed: number
  readonly dir: string
  readonly summary: any
  readonly rows: Array<any>
  /** A column of the run's per-context.csv. */
  readonly column: (name: string) => Array<number>
}

const storedRuns = (folder: string): Array<Stored> =>
  readdirSync(folder)
    .filter((f) => f.startsWith("figures-quick-"))
    .map((id) => {
      const dir = join(folder, id)
      const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))
      return {
        attention: config.model.attention,
        n: config.task.n,
        seed: config.seed,
        dir,
        summary: JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")),
        rows: readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)),
        column: (name: string) => {
          const [header, ...lines] = readFileSync(join(dir, "per-context.csv"), "utf8").trim().split("\n")
          const index = header!.split(",").indexOf(name)
          return lines.map((l) => Number(l.split(",")[index]))
        }
      }
    })

/** Student's t_{0.975} with one degree of freedom: the band over two seeds is mean ± t·|a − b|/2. */
const T95_ONE = 12.706204736174707 // tan(0.475π)
/** A table's number: 4 decimals, or two significant digits where 4 decimals would show a non-zero value as 0.0000. */
const fixed = (v: number) => (v !== 0 && Math.abs(v) < 5e-5 ? v.toExponential(1) : v.toFixed(4))
const mean = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / values.length
const close = (actual: number, expected: number, what: string, tolerance = 1e-12) =>
  assert.isTrue(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: plotted ${actual}, stored ${expected}`)

/** Every figure's data, compared with what the runs stored (metrics.jsonl, summary.json, per-context.csv, references.json). */
const assertPlottedValuesAreStored = (folder: string, reportDir: string) => {
  const runs = storedRuns(folder)
  assert.strictEqual(runs.length, 12)
  const spec = (name: string) => JSON.parse(readFileSync(join(reportDir, `${name}.vl.json`), "utf8"))
  const groups = ["linear", "exp", "softmax"].flatMap((attention) =>
    [8, 16].map((n) => ({ attention, n, runs: runs.filter((r) => r.attention === attention && r.n === n).sort((a, b) => a.seed - b.seed) }))
  )

  // Alignment: mean and 95% band over the two seeds of each configuration, at every evaluation step.
  const alignment = spec("alignment").data.values as Array<{ panel: string; metric: string; series: string; x: number; mean: number; lo: number; hi: number }>
  const checks: Array<[string, string, (row: any) => number]> = [
    ["model cos", "GD at extracted parameters", (row) => row.alignment.atExtracted.modelCos],
    ["preds diff", "GD* (grid optimum)", (row) => row.alignment.atGridOptimum.predsDiff],
    ["model diff", "GD at extracted parameters", (row) => row.alignment.atExtracted.modelDiff]
  ]
  for (const group of groups) {
    const panel = `${group.attention} SA, n=${group.n}`
    group.runs[0]!.rows.forEach((row, i) => {
      for (const [metric, series, pick] of checks) {
        const values = group.runs.map((r) => pick(r.rows[i]))
        const point = alignment.find((p) => p.panel === panel && p.metric === metric && p.series === series && p.x === row.step)
        assert.isDefined(point, `${panel} ${metric} ${series} at step ${row.step}`)
        close(point!.mean, mean(values), `${panel} ${metric} at step ${row.step}`)
        // The report's t quantile is numerical (jStat, to about 1e-8); a cosine's band stops at 1.
        const upper = point!.mean + (T95_ONE * Math.abs(values[0]! - values[1]!)) / 2
        close(point!.hi, metric === "model cos" ? Math.min(1, upper) : upper, `${panel} ${metric} band at step ${row.step}`, 1e-7)
      }
    })
  }
  // Nothing else is plotted: 9 series per step for the kernel models (with their basin optimum), 6 for linear attention.
  assert.strictEqual(alignment.length, groups.reduce((sum, g) => sum + g.runs[0]!.rows.length * (g.attention === "linear" ? 6 : 9), 0))

  // Per-context scatter 1: linear attention nearest n = 100 (n = 16), seed 0: its per-context.csv, point for point.
  const scatterRun = groups.find((g) => g.attention === "linear" && g.n === 16)!.runs[0]!
  const csv = readFileSync(join(scatterRun.dir, "per-context.csv"), "utf8").trim().split("\n")
  const columns = csv[0]!.split(",")
  const table = csv.slice(1).map((line) => line.split(",").map(Number))
  const scatter = spec("per-context-linear-n16").hconcat as Array<any>
  for (const [panel, model, reference] of [[0, "model_loss", "extracted_loss"], [1, "model_p_correct", "extracted_p_correct"], [2, "model_entropy", "extracted_entropy"]] as const) {
    const plotted = scatter[panel].layer[0].data.values as Array<{ reference: number; model: number }>
    assert.deepStrictEqual(plotted, table.map((cells) => ({ reference: cells[columns.indexOf(reference)]!, model: cells[columns.indexOf(model)]! })), model)
    close(scatter[panel].layer[3].data.values[0].v, mean(table.map((cells) => cells[columns.indexOf(model)]!)), `mean ${model}`)
  }

  // Landscape: the CA-KGD grid of the softmax configuration nearest the main setting (n = 16), and the extracted
  // (c_σ, b) of that configuration's runs through training, ending at their final points; runs at n = 8 have another
  // landscape and are not drawn on this one.
  const landscape = spec("landscape")
  const softmaxRuns = runs.filter((r) => r.attention === "softmax" && r.n === 16)
  const first = softmaxRuns.find((r) => r.seed === 0)!
  const grid = JSON.parse(readFileSync(join(first.dir, "references.json"), "utf8"))["ca-kgd"]
  assert.deepStrictEqual((landscape.layer[0].data.values as Array<{ loss: number }>).map((c) => c.loss), grid.landscape.loss.flat())
  const otherGrid = JSON.parse(readFileSync(join(runs.find((r) => r.attention === "softmax" && r.n === 8)!.dir, "references.json"), "utf8"))["ca-kgd"]
  assert.notDeepEqual(otherGrid.landscape.loss.flat(), grid.landscape.loss.flat(), "the two settings' landscapes differ")
  assert.include(landscape.title, "softmax SA, n=16")
  const trajectory = landscape.layer[1].data.values as Array<unknown>
  assert.strictEqual(trajectory.length, softmaxRuns.reduce((sum, r) => sum + r.rows.length - 1, 0), "every evaluation point after step 0")
  const ends = landscape.layer[2].data.values as Array<{ cSigma: number; scale: number; step: number }>
  assert.strictEqual(ends.length, 2, "2 softmax runs at n = 16, one end point each")
  for (const run of softmaxRuns) {
    const last = run.rows.at(-1)
    assert.isTrue(ends.some((e) => e.step === last.step && e.cSigma === last.extracted.params.cSigma && e.scale === last.extracted.params.scale), `end of ${run.dir}`)
  }

  // Final loss and c_σ along task.n: means over seeds of the summaries.
  const finalLoss = spec("final-loss").data.values as Array<{ series: string; x: number; mean: number }>
  const cSigma = spec("c-sigma").data.values as Array<{ series: string; x: number; mean: number }>
  for (const group of groups) {
    const at = (points: typeof finalLoss, series: string) => points.find((p) => p.series === series && p.x === group.n)!
    close(at(finalLoss, `${group.attention} SA`).mean, mean(group.runs.map((r) => r.summary.final.model.loss)), `final loss ${group.attention} n=${group.n}`)
    close(at(finalLoss, "CA-KGD*").mean, mean(group.runs.map((r) => r.summary.references["ca-kgd"].evaluation.loss)), `CA-KGD* n=${group.n}`)
    if (group.attention === "softmax") {
      // Learned c_σ within each basin, never across.
      for (const kind of ["selection", "elimination"]) {
        const ofKind = group.runs.filter((r) => r.summary.final.extracted.solution === kind)
        if (ofKind.length > 0) close(at(cSigma, `learned, ${kind} seeds`).mean, mean(ofKind.map((r) => r.summary.final.extracted.cSigma)), `learned c_σ (${kind}) n=${group.n}`)
      }
    }
  }

  // Context lengths, for one configuration per attention kind (the one nearest n = 100): at the trained n the
  // evaluation set is the run's own, so the plotted losses are the stored final ones.
  const lengths = spec("context-length").data.values as Array<{ panel: string; series: string; x: number; mean: number }>
  assert.sameMembers([...new Set(lengths.map((p) => p.panel))], ["linear SA, n=16", "exp SA, n=16", "softmax SA, n=16"])
  for (const group of groups.filter((g) => g.n === 16)) {
    const panel = `${group.attention} SA, n=${group.n}`
    const at = (series: string) => lengths.find((p) => p.panel === panel && p.series === series && p.x === group.n)!
    close(at("trained model").mean, mean(group.runs.map((r) => r.summary.final.model.loss)), `${panel} at its own n`)
    close(at("GD reference* (extracted parameters)").mean, mean(group.runs.map((r) => r.summary.final.reference.atExtracted.loss)), `${panel} reference at its own n`)
  }
}

describe("classification report", () => {
  // One quick sweep and its report, shared by the tests below (they only read them).
  let folder = ""
  let report: Report
  beforeAll(
    () =>
      Effect.runPromise(
        Effect.gen(function* () {
          folder = yield* storedSweep()
          report = yield* makeReport(folder)
        }).pipe(Effect.provide(QuietServicesLive))
      ),
    240_000
  )

  it.live(
    "makes every figure from a stored sweep, and the HTML report renders them in a real browser without console errors",
    () =>
      Effect.gen(function* () {
        const expected: Record<string, ReadonlyArray<string>> = {
          alignment: ["model cos", "preds diff", "model diff", "GD* (grid optimum)", "GD at extracted parameters", "GD* in the learned basin", "softmax SA, n=16", "training step"],
          "per-context-softmax-n16": ["loss (nats)", "p(correct class)", "entropy (nats)", "trained model", "CA-KGD at the extracted parameters"],
          "per-context-linear-n16": ["GD-lin at the extracted parameters"],
          contexts: ["d = 2", "d = 3, coordinates (1, 3)", "class 5", "x_3 (input coordinate)"],
          landscape: ["c_σ (kernel inverse width; symlog)", "b = c_η / n (step; symlog)", "mean CE (nats)"],
          "final-loss": ["GD-lin*", "KGD-fixed*", "CA-KGD*", "CA-GD-lin*", "linear SA", "exp SA", "softmax SA", "n (context length)", "mean cross-entropy (nats)"],
          "c-sigma": ["grid optimum, selection", "grid optimum, elimination", "c_σ (inverse kernel width", "n (context length)"],
          "context-length": ["trained model", "GD reference* (extracted parameters)"],
          weights: ["W_KQ", "W_PV", "x5", "y5", "softmax SA, n=16, seed 0"],
          training: ["evaluation loss (nats)", "c_σ (inverse kernel width)", "b = c_η/n (CA-KGD step)", "η = a·b (GD-lin step)", "grid optimum, elimination basin"],
          adaptability: ["p(correct class)", "entropy (nats)", "context points of the query's class", "linear SA", "GD-lin*", "softmax SA"],
          ood: ["inputs ×2", "query's class absent", "2 of 5 classes present", "imbalanced (ρ = 10)", "reference at grid optimum", "mean cross-entropy (nats)"]
        }
        assert.includeMembers(report.figures.map((f) => f.name), Object.keys(expected))
        for (const [name, series] of Object.entries(expected)) {
          const svg = readFileSync(join(report.dir, `${name}.svg`), "utf8")
          assert.isTrue(svg.startsWith("<svg"), `${name}.svg is an SVG`)
          for (const text of series) assert.include(svg, text.replace(/&/g, "&amp;"), `${name}.svg shows "${text}"`)
          assert.deepStrictEqual([...readFileSync(join(report.dir, `${name}.png`)).subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], `${name}.png is a PNG`)
          const spec = JSON.parse(readFileSync(join(report.dir, `${name}.vl.json`), "utf8"))
          assert.match(spec.$schema, /vega-lite/)
        }
        assertPlottedValuesAreStored(folder, report.dir)
        // Each end point of the landscape is labelled with its values.
        const landscape = JSON.parse(readFileSync(join(report.dir, "landscape.vl.json"), "utf8"))
        // A label may hold several lines (ends that would be written over each other share one label).
        const labels = landscape.layer[3].data.values.flatMap((p: { label: string }) => p.label.split("\n"))
        for (const end of landscape.layer[2].data.values) {
          const values = `(${end.cSigma.toFixed(1)}, ${end.scale.toFixed(2)})`
          const seed = end.run.replace("seed ", "")
          assert.isTrue(
            labels.some((l: string) => l.endsWith(`: ${values}`) && new RegExp(`seeds? (\\d+, )*${seed}(, \\d+)*:`).test(l)),
            `${end.run} labelled ${values} among ${labels.join("; ")}`
          )
        }
        // A figure of one panel has no placeholder header; the final-loss legend draws models solid, references dashed.
        assert.notInclude(readFileSync(join(report.dir, "final-loss.svg"), "utf8"), ">all</text>")
        const finalLoss = JSON.parse(readFileSync(join(report.dir, "final-loss.vl.json"), "utf8"))
        assert.strictEqual(finalLoss.spec.layer[1].encoding.color.legend.symbolType, "stroke")
        assert.isTrue(existsSync(join(report.dir, "report.md")))
        assert.include(readFileSync(join(report.dir, "report.md"), "utf8"), "![alignment](alignment.svg)")

        const outcome = yield* openInChromium(join(report.dir, "report.html"))
        assert.deepStrictEqual(outcome.errors, [])
        assert.strictEqual(outcome.figureSizes.length, report.figures.length, "every figure is in the page")
        for (const [width, height] of outcome.figureSizes) assert.isTrue(width! > 100 && height! > 100, "every figure rendered with a size")
        assert.isAtLeast(outcome.tables, 5, "aggregate, final loss along n, adaptability, out-of-distribution and runs tables")
      }).pipe(Effect.provide(QuietServicesLive)),
    240_000
  )

  it.live("makes the figures of a single run folder from that run's stored results, and says which figures need a sweep", () =>
    Effect.gen(function* () {
      const run = yield* trainRun(tinyConfig({ output: { dir: mkdtempSync(join(tmpdir(), "icl-gd-report-")) } }))
      const report = yield* makeReport(run.dir)
      assert.strictEqual(report.dir, join(run.dir, "report"))
      const names = report.figures.map((f) => f.name)
      assert.includeMembers(names, ["alignment", "per-context-softmax", "contexts", "landscape", "context-length", "weights", "training", "adaptability", "ood"])
      assert.notInclude(names, "final-loss", "a figure along a sweep axis needs a sweep")
      assert.isTrue(report.skipped.some((line) => line.includes("no axis")), report.skipped.join("\n"))
      // One run: every alignment point is that run's stored value, with no band.
      const rows = readFileSync(join(run.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      const points = JSON.parse(readFileSync(join(report.dir, "alignment.vl.json"), "utf8")).data.values as Array<any>
      for (const row of rows) {
        const point = points.find((p) => p.metric === "model cos" && p.series === "GD at extracted parameters" && p.x === row.step)
        assert.deepStrictEqual([point.mean, point.lo, point.hi], Array(3).fill(row.alignment.atExtracted.modelCos), `step ${row.step}`)
      }
      const markdown = readFileSync(join(report.dir, "report.md"), "utf8")
      assert.include(markdown, "1 finished run in 1 configuration")
      assert.include(markdown, run.runId)
      // A rerun removes the figures an earlier report drew and this one does not (here a figure of a configuration the
      // folder no longer shows), and leaves other files alone.
      for (const ext of ["vl.json", "svg", "png"]) writeFileSync(join(report.dir, `per-context-softmax-d2.${ext}`), "old")
      writeFileSync(join(report.dir, "notes.png"), "mine")
      const again = yield* makeReport(run.dir)
      const files = readdirSync(again.dir)
      assert.isEmpty(files.filter((f) => f.startsWith("per-context-softmax-d2.")), files.join(", "))
      assert.include(files, "notes.png")
      for (const figure of again.figures) for (const ext of ["vl.json", "svg", "png"]) assert.include(files, `${figure.name}.${ext}`)
    }).pipe(Effect.provide(QuietServicesLive))
  )

  /** The seeds of one configuration at n = 16 split as the report splits them: by the solution each learned. */
  const subgroups = (attention: string) => {
    const runs = storedRuns(folder).filter((r) => r.attention === attention && r.n === 16)
    const kinds = [...new Set(runs.map((r) => r.summary.final.extracted.solution))]
    return kinds.map((kind) => {
      const members = runs.filter((r) => r.summary.final.extracted.solution === kind)
      const label = kind === null ? `${attention} SA, n=16` : `${attention} SA, n=16 (${kind}, ${members.length} seed${members.length === 1 ? "" : "s"})`
      return { kind, label, members }
    })
  }

  it.live("the ood figure plots each run's stored final losses in distribution, and the program's on shifted tasks", () =>
    Effect.gen(function* () {
      const points = JSON.parse(readFileSync(join(report.dir, "ood.vl.json"), "utf8")).data.values as Array<{
        panel: string
        shift: string
        series: string
        mean: number
      }>
      for (const [attention, reference] of [["linear", "GD-lin"], ["exp", "KGD-fixed"], ["softmax", "CA-KGD"]] as const) {
        assert.strictEqual(subgroups(attention).reduce((s, g) => s + g.members.length, 0), 2, `two seeds of ${attention}`)
        for (const { label, members } of subgroups(attention)) {
          const at = (shift: string, series: string) => {
            const found = points.filter((p) => p.panel === `${label} vs ${reference}` && p.shift === shift && p.series === series)
            assert.strictEqual(found.length, 1, `${label}: ${shift}, ${series}`)
            return found[0]!.mean
          }
          // In distribution the shifted set is the run's own evaluation set: the stored final losses, averaged over seeds.
          assert.closeTo(at("in distribution", "trained model"), mean(members.map((r) => r.summary.final.model.loss)), 1e-12)
          assert.closeTo(at("in distribution", "reference at extracted parameters"), mean(members.map((r) => r.summary.final.reference.atExtracted.loss)), 1e-12)
          assert.closeTo(at("in distribution", "reference at grid optimum"), mean(members.map((r) => r.summary.final.reference.atGridOptimum.loss)), 1e-12)
          const shifted = yield* Effect.forEach(members, (r) => evaluateShifts(r.dir))
          for (const [i, result] of shifted[0]!.entries()) {
            assert.closeTo(at(result.name, "trained model"), mean(shifted.map((s) => s[i]!.model.loss)), 1e-12, result.name)
            assert.closeTo(at(result.name, "reference at extracted parameters"), mean(shifted.map((s) => s[i]!.atExtracted.loss)), 1e-12, result.name)
          }
        }
      }
      const markdown = readFileSync(join(report.dir, "report.md"), "utf8")
      assert.include(markdown, "## Out-of-distribution evaluation")
      assert.include(markdown, `| ${subgroups("softmax")[0]!.label} | query's class absent |`)
      // The grid-optimal reference is one learner for every seed: its cell is its value ± SE over contexts, not a
      // zero-width interval over seeds.
      const linear = subgroups("linear")[0]!.members[0]!.summary
      const gridCell = `${fixed(linear.final.reference.atGridOptimum.loss)} ± ${fixed(linear.uncertainty!.reference.atGridOptimum.loss)}`
      const inDistribution = markdown.split("\n").find((l) => l.startsWith(`| ${subgroups("linear")[0]!.label} | in distribution |`))!
      assert.strictEqual(inDistribution.split(" | ")[5], gridCell, inDistribution)
    }).pipe(Effect.provide(QuietServicesLive))
  )

  it("the training and weights figures plot the stored metrics and weights; the table along n holds the stored final losses", () => {
    const runs = storedRuns(folder)
    const training = JSON.parse(readFileSync(join(report.dir, "training.vl.json"), "utf8")).data.values as Array<{
      panel: string
      quantity: string
      series: string
      seed: string
      x: number
      y: number
    }>
    for (const run of runs.filter((r) => r.n === 16)) {
      const rows = readFileSync(join(run.dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      const line = (quantity: string) =>
        training.filter((p) => p.panel === `${run.attention} SA, n=16` && p.quantity === quantity && p.seed === `seed ${run.seed}`).map((p) => [p.x, p.y])
      assert.deepStrictEqual(line("evaluation loss (nats)"), rows.map((r) => [r.step, r.model.loss]))
      if (run.attention === "softmax") assert.deepStrictEqual(line("c_σ (inverse kernel width)"), rows.map((r) => [r.step, r.extracted.cSigma]))
      if (run.attention === "linear") assert.deepStrictEqual(line("η = a·b (GD-lin step)"), rows.map((r) => [r.step, r.extracted.eta]))
      const level = training.filter((p) => p.panel === `${run.attention} SA, n=16` && p.quantity === "evaluation loss (nats)" && p.series === "grid optimum (GD*)")
      assert.isTrue(level.every((p) => p.y === run.summary.final.reference.atGridOptimum.loss))
    }
    const weights = JSON.parse(readFileSync(join(report.dir, "weights.vl.json"), "utf8"))
    const softmax = runs.find((r) => r.attention === "softmax" && r.n === 16 && r.seed === 0)!
    const stored = JSON.parse(readFileSync(join(softmax.dir, "weights.json"), "utf8"))
    const cells = weights.vconcat.flatMap((row: { hconcat: Array<{ data: { values: Array<{ panel: string; matrix: string; row: string; column: string; value: number }> } }> }) =>
      row.hconcat.flatMap((panel) => panel.data.values)
    ).filter((c: { panel: string }) => c.panel === "softmax SA, n=16, seed 0")
    const labels = ["x1", "x2", "x3", "x4", "x5", "y1", "y2", "y3", "y4", "y5"]
    for (const c of cells) {
      assert.strictEqual(c.value, stored.final[c.matrix][labels.indexOf(c.row)][labels.indexOf(c.column)], `${c.matrix}[${c.row}, ${c.column}]`)
    }
    assert.strictEqual(cells.length, 2 * 100)
    // The table along n: the trained models' mean ± SE over seeds, the references at their grid optimum ± SE.
    const markdown = readFileSync(join(report.dir, "report.md"), "utf8")
    const table = markdown.slice(markdown.indexOf("## Final loss along n (context length)"))
    const row = table.split("\n").find((l) => l.startsWith("| 16 |"))!
    const seeds = runs.filter((r) => r.attention === "softmax" && r.n === 16).map((r) => r.summary.final.model.loss)
    const se = Math.abs(seeds[0]! - seeds[1]!) / 2
    assert.include(row, `${fixed(mean(seeds))} ± ${fixed(se)} (2)`)
    const reference = softmax.summary.references["ca-kgd"]
    assert.include(row, `${fixed(reference.evaluation.loss)} ± ${fixed(reference.evaluationSe!.loss)}`)
  })

  it("the adaptability figure's bins average back to each run's stored final p(correct) and entropy", () => {
    const points = JSON.parse(readFileSync(join(report.dir, "adaptability.vl.json"), "utf8")).data.values as Array<{
      feature: string
      metric: string
      series: string
      x: number
      mean: number
      contexts: number
    }>
    for (const [attention, reference] of [["linear", "GD-lin"], ["softmax", "CA-KGD"]] as const) {
      for (const { kind, members } of subgroups(attention)) {
        const basin = kind === null ? "" : ` (${kind})`
        for (const [metric, pick, gridPick] of [
          ["p(correct class)", (s: RunSummary) => s.final.model.pCorrect, (s: RunSummary) => s.final.reference.atGridOptimum.pCorrect],
          ["entropy (nats)", (s: RunSummary) => s.final.model.entropy, (s: RunSummary) => s.final.reference.atGridOptimum.entropy]
        ] as const) {
          for (const [series, expected] of [
            [`${attention} SA${basin}`, mean(members.map((r) => pick(r.summary)))],
            [`${reference}*${kind === null ? "" : " (global optimum)"}`, mean(members.map((r) => gridPick(r.summary)))]
          ] as const) {
            const bins = points.filter((p) => p.feature === "context points of the query's class" && p.metric === metric && p.series === series)
            assert.isAtLeast(bins.length, 3, `${series}: bins`)
            const total = bins.reduce((s, b) => s + b.contexts, 0)
            assert.strictEqual(total, 300, "every evaluation context in one bin")
            // Bin means weighted by their contexts give back the overall mean (per-context.csv keeps 8 digits).
            assert.closeTo(bins.reduce((s, b) => s + b.contexts * b.mean, 0) / total, expected, 1e-6, `${series}, ${metric}`)
            assert.deepStrictEqual(bins.map((b) => b.x), [...bins.map((b) => b.x)].sort((a, b) => a - b), "bins in increasing order")
            // The bins' same-class counts are those stored per context.
            assert.closeTo(bins.reduce((s, b) => s + b.contexts * b.x, 0) / 300, mean(members[0]!.column("same_class")), 1e-9)
          }
        }
      }
    }
    // The effective step is softmax attention's alone.
    const steps = points.filter((p) => p.feature.startsWith("log10 effective step"))
    assert.isAbove(steps.length, 0)
    assert.isTrue(steps.every((p) => p.series.startsWith("softmax SA") || p.series.startsWith("CA-KGD")))
  })
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
