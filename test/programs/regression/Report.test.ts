import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { QuietServicesLive } from "../../helpers.js"
import { openInChromium } from "../../support/browser.js"
import { planSweep } from "../../../src/programs/Registry.js"
import { makeReport } from "../../../src/programs/MakeReport.js"
import { runSweep } from "../../../src/programs/Sweep.js"
import { regressionAggregate } from "../../../src/programs/regression/Tables.js"

interface Stored {
  readonly kernel: string
  readonly attention: string
  readonly summary: any
  readonly rows: Array<any>
}

/** The sweep's runs as stored, read back independently of the report's loader. */
const storedRuns = (folder: string): Array<Stored> =>
  readdirSync(folder)
    .filter((f) => f.startsWith("functions-kernels-quick-"))
    .map((id) => {
      const config = JSON.parse(readFileSync(join(folder, id, "config.json"), "utf8"))
      return {
        kernel: config.task.kernel,
        attention: config.model.attention,
        summary: JSON.parse(readFileSync(join(folder, id, "summary.json"), "utf8")),
        rows: readFileSync(join(folder, id, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      }
    })

const ACTIVATIONS = ["relu", "exp", "softmax"] as const

describe("regression aggregate", () => {
  it("intervals over seeds stay inside each metric's range: a cosine's interval is clipped at 1 and written by its ends", () => {
    // The three MLP + attention seeds of examples/deep-features.json: model cos with GD on the learned features.
    const cosines = [0.97163689, 0.79953752, 0.97438331]
    const rows = cosines.map((c, seed) => ({ run_id: `r${seed}`, seed, "model.embedding": "mlp", status: "done", final_loss: [0.001, 0.002, 0.05][seed]!, model_cos_learned: c }))
    const { rows: aggregated, markdown } = regressionAggregate("s", rows, ["model.embedding"])
    const mean = cosines.reduce((a, b) => a + b, 0) / 3
    const sd = Math.sqrt(cosines.reduce((a, c) => a + (c - mean) ** 2, 0) / 2)
    const halfWidth = 4.302652729911275 * sd / Math.sqrt(3) // t(0.975, 2)
    const row = aggregated[0]!
    assert.closeTo(row["model_cos_learned_mean"] as number, mean, 1e-12)
    assert.closeTo(row["model_cos_learned_ci95"] as number, halfWidth, 1e-9)
    assert.isAbove(mean + halfWidth, 1, "the unclipped interval leaves the range")
    assert.strictEqual(row["model_cos_learned_hi"], 1)
    assert.closeTo(row["model_cos_learned_lo"] as number, mean - halfWidth, 1e-9)
    assert.include(markdown, `${mean.toFixed(4)} [${(mean - halfWidth).toFixed(4)}, 1.0000]`)
    assert.strictEqual(row["final_loss_lo"], 0, "a loss interval stops at 0")
  })
})

describe("regression report", () => {
  it.live(
    "a regression sweep gets its own report: figures of the stored values, the kernel × attention table with the best activation and the verdict computed from the results, opened in a real browser",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "icl-gd-report-"))
        const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "examples", "quick", "functions-kernels.json"), "utf8"))
        const { result } = yield* runSweep(Either.getOrThrow(planSweep({ ...example, output: { dir, progress: false } })), { concurrency: 1 })
        const report = yield* makeReport(result.folder)
        assert.deepStrictEqual(report.figures.map((f) => f.name), ["alignment", "loss", "interpolation"])
        for (const figure of report.figures) {
          for (const text of ["kernel=exp", "kernel=relu", "softmax SA", "relu SA"]) assert.include(figure.svg, text, figure.name)
        }
        const runs = storedRuns(result.folder)
        assert.strictEqual(runs.length, 6)

        // Every plotted value is a stored one (one seed per configuration: the mean is the value itself).
        const spec = (name: string) => JSON.parse(readFileSync(join(report.dir, `${name}.vl.json`), "utf8")).data.values as Array<{ panel: string; series: string; x: number; mean: number }>
        const at = (points: ReturnType<typeof spec>, run: Stored, x: number) =>
          points.filter((p) => p.panel === `kernel=${run.kernel}` && p.series === `${run.attention} SA` && p.x === x)
        const figures = { alignment: spec("alignment"), loss: spec("loss"), interpolation: spec("interpolation") }
        for (const run of runs) {
          for (const row of run.rows) {
            assert.deepStrictEqual(at(figures.alignment, run, row.step).map((p) => p.mean), [row.alignment.gridOptimum.modelCos], `alignment ${run.kernel}/${run.attention} step ${row.step}`)
            assert.deepStrictEqual(at(figures.loss, run, row.step).map((p) => p.mean), [row.model.loss / run.summary.references["gd"].loss], `loss ${run.kernel}/${run.attention} step ${row.step}`)
          }
          for (const point of run.summary.interpolation) {
            assert.deepStrictEqual(at(figures.interpolation, run, point.alpha).map((p) => p.mean), [point.loss], `interpolation ${run.kernel}/${run.attention} α ${point.alpha}`)
          }
        }
        for (const points of Object.values(figures)) assert.strictEqual(points.length, new Set(points.map((p) => `${p.panel}|${p.series}|${p.x}`)).size)
        assert.strictEqual(figures.alignment.length, runs.reduce((s, r) => s + r.rows.length, 0), "nothing plotted that was not stored")

        // The kernel × attention table: per function kernel, the lowest final loss among the activations is marked best,
        // and the verdict says whether it is the activation whose kernel generated the functions (relu, exp).
        const markdown = readFileSync(join(report.dir, "report.md"), "utf8")
        assert.include(markdown, "## Function kernel × attention activation")
        for (const kernel of ["relu", "exp"]) {
          const losses = ACTIVATIONS.map((a) => runs.find((r) => r.kernel === kernel && r.attention === a)!.summary.final.model.loss as number)
          const order = [...losses].sort((a, b) => a - b)
          const best = ACTIVATIONS[losses.indexOf(order[0]!)]!
          const rank = 1 + order.indexOf(losses[ACTIVATIONS.indexOf(kernel as "relu" | "exp")]!)
          const verdict = best === kernel ? "yes" : `no (${kernel} ranks ${rank} of 3)`
          const unnormalised = losses[0]! <= losses[1]! ? "relu" : "exp"
          const cells = losses.map((v, i) => (ACTIVATIONS[i] === best ? `**${v.toFixed(4)}**` : v.toFixed(4)))
          const row = `| ${kernel} | ${cells.join(" | ")} | ${best} | ${verdict} | ${unnormalised} (${unnormalised === kernel ? "matches" : "does not match"}) |`
          assert.include(markdown, row, `the ${kernel} row`)
          // The functional GD table: each kernel's grid-optimal reference loss, the lowest marked best.
          const references = ACTIVATIONS.map((a) => runs.find((r) => r.kernel === kernel)!.summary.references[`fgd-${a}`].loss as number)
          const bestReference = references.indexOf(Math.min(...references))
          const bayes = runs.find((r) => r.kernel === kernel)!.summary.references["bayes"].loss as number
          const referenceCells = references.map((v, i) => (i === bestReference ? `**${v.toFixed(4)}**` : v.toFixed(4)))
          assert.include(markdown, `| ${kernel} | ${referenceCells.join(" | ")} | ${ACTIVATIONS[bestReference]} | ${bayes.toFixed(4)} |`, `the ${kernel} reference row`)
        }
        assert.include(markdown, "| function kernel | FGD relu | FGD exp | FGD softmax | best | Bayes |")

        // The HTML report as a person opens it.
        const page = yield* openInChromium(join(report.dir, "report.html"))
        assert.deepStrictEqual(page.errors, [])
        assert.strictEqual(page.figureSizes.length, 3, "every figure is in the page")
        for (const [width, height] of page.figureSizes) assert.isTrue(width > 100 && height > 100, "every figure rendered with a size")
        assert.include(page.headings, "Function kernel × attention activation")
        assert.isAtLeast(page.tables, 3, "trained, reference and runs tables")
      }).pipe(Effect.provide(QuietServicesLive)),
    240_000
  )

  it.live(
    "a deep-features sweep reports the deep-representations table and the alignment with GD on the learned features",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "icl-gd-report-"))
        const example = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "examples", "quick", "deep-features.json"), "utf8"))
        // Two seeds, so that every figure has a band over seeds.
        const sweep = { ...example.sweep, seeds: [0, 1] }
        const { result } = yield* runSweep(Either.getOrThrow(planSweep({ ...example, sweep, output: { dir, progress: false } })), { concurrency: 1 })
        const report = yield* makeReport(result.folder)
        assert.deepStrictEqual(report.figures.map((f) => f.name), ["alignment", "learned-features", "loss", "interpolation"])
        // Legends name the embedding by its shape, not by the config's JSON.
        for (const figure of report.figures) {
          assert.notMatch(figure.svg, /hidden(&quot;|")/, figure.name)
          assert.include(figure.svg, "tanh MLP 2→16→6", figure.name)
        }
        assert.include(report.figures.find((f) => f.name === "alignment")!.svg, "no embedding")
        // Cosines are bounded: no band leaves [−1, 1]; with two seeds the t-interval (t = 12.7) is wide enough to be clipped.
        const points = (name: string) => JSON.parse(readFileSync(join(report.dir, `${name}.vl.json`), "utf8")).data.values as Array<{ lo: number; hi: number; mean: number }>
        const cosines = [...points("alignment"), ...points("learned-features")]
        for (const p of cosines) assert.isTrue(p.lo >= -1 && p.hi <= 1, JSON.stringify(p))
        assert.isTrue(cosines.some((p) => p.hi === 1), "some cosine band reaches the bound")
        for (const p of [...points("loss"), ...points("interpolation")]) assert.isAtLeast(p.lo, 0, JSON.stringify(p))
        const markdown = readFileSync(join(report.dir, "report.md"), "utf8")
        assert.include(markdown, "## Deep representations")
        // Numbers as the tables write them: fixed-point, or two significant digits where 4 decimals would show 0.0000.
        const number = String.raw`-?[0-9.]+(?:e-\d+)?`
        const interval = String.raw`${number}( ± ${number}| \[${number}, ${number}\])`
        assert.match(markdown, new RegExp(String.raw`\| attention alone \(1 linear layer\) \| 2 \| ${interval} \| ${interval} \| ${interval} \| — \| — \| — \| ${interval} \|`))
        assert.match(
          markdown,
          new RegExp(String.raw`\| tanh MLP 2→16→6 \+ attention \(1 linear layer\) \| 2 \| ${interval} \| ${interval} \| ${interval} \| ${interval} \| ${interval} \| ${interval} \| ${interval} \|`)
        )
        const aggregate = readFileSync(join(result.folder, "aggregate.md"), "utf8")
        assert.include(aggregate, "| GD* on φ(x) | GD* on learned features | model cos (learned) |")
      }).pipe(Effect.provide(QuietServicesLive)),
    120_000
  )
})
