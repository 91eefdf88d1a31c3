/**
 * The parts every report shares: finding the finished runs of a folder, rendering a figure into its three files, and
 * writing report.html (figures inline) and report.md from figures and markdown tables.
 */
import { Effect, Option } from "effect"
import type { TopLevelSpec } from "vega-lite"
import { NotAFolder } from "../domain/Errors.js"
import { FigureRenderer } from "../services/FigureRenderer.js"
import { RunStore } from "../services/RunStore.js"
import { folderKind } from "./Folders.js"
import { describeDamage, verifyRun } from "./RunIntegrity.js"

export interface ReportFigure {
  readonly name: string
  readonly caption: string
  readonly svg: string
}

export interface Report {
  readonly dir: string
  readonly figures: ReadonlyArray<ReportFigure>
  /** Figures that could not be made from these results, with the reason. */
  readonly skipped: ReadonlyArray<string>
}

export interface FinishedRun {
  readonly id: string
  readonly seed: number
  readonly axes: Readonly<Record<string, unknown>>
  readonly dir: string
}

/**
 * The finished runs of a sweep folder (manifest.json), or the run that a run folder holds, each verified
 * (RunIntegrity): damaged runs are left out and listed with the file at fault. Fails with NotAFolder, saying exactly
 * why, when the path holds no sweep or run, or no finished run that is intact.
 */
export const finishedRuns = (folder: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const kind = yield* folderKind(folder)
    let candidates: Array<FinishedRun>
    let counts = ""
    if (kind === "sweep") {
      const manifest = Option.getOrUndefined(yield* store.readJson(store.join(folder, "manifest.json")).pipe(
        Effect.mapError((error) => new NotAFolder({ path: store.join(folder, "manifest.json"), reason: `${error.detail}; rerun the sweep's command to write it again` }))
      )) as { runs?: Array<{ id: string; seed: number; axes: Record<string, unknown>; state: string }> } | undefined
      if (!Array.isArray(manifest?.runs)) {
        return yield* new NotAFolder({ path: store.join(folder, "manifest.json"), reason: "is not a sweep manifest (no list of runs); rerun the sweep's command to write it again" })
      }
      candidates = manifest.runs.filter((r) => r?.state === "done").map((r) => ({ id: r.id, seed: r.seed, axes: r.axes ?? {}, dir: store.join(folder, r.id) }))
      const by = (state: string) => manifest.runs!.filter((r) => r?.state === state).length
      counts = ` (${manifest.runs.length} runs: ${by("pending") + by("running")} not finished, ${by("failed")} failed)`
    } else {
      candidates = [{ id: folder.replace(/\/+$/, "").split("/").pop()!, seed: -1, axes: {}, dir: folder }]
    }
    const entries: Array<FinishedRun> = []
    const damaged: Array<string> = []
    for (const entry of candidates) {
      const integrity = yield* verifyRun(entry.dir)
      if (integrity._tag === "Intact") entries.push(entry)
      else if (integrity._tag === "Damaged") damaged.push(`run ${entry.id} left out: ${describeDamage(integrity)} (rerun its command to repair it)`)
    }
    if (entries.length === 0) {
      const what = kind === "sweep" ? `this sweep has no finished run yet${counts}` : "this run has not finished"
      return yield* new NotAFolder({
        path: folder,
        reason: damaged.length > 0 ? `no intact finished run:\n  ${damaged.join("\n  ")}` : `${what}; run it (rerun its command) before making a report`
      })
    }
    for (const line of damaged) yield* Effect.logWarning(line)
    return Object.assign(entries, { damaged })
  })

/** A finished run's config, summary and metrics rows, as stored. */
export const loadStoredRun = <C extends { readonly seed: number }, S, P>(entry: FinishedRun) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const readJson = (path: string) => store.readJson(path).pipe(Effect.map(Option.getOrUndefined))
    const config = (yield* readJson(store.join(entry.dir, "config.json"))) as C
    const summary = (yield* readJson(store.join(entry.dir, "summary.json"))) as S
    const rows = Option.getOrElse(yield* store.readText(store.join(entry.dir, "metrics.jsonl")), () => "")
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as P)
    return { ...entry, seed: entry.seed >= 0 ? entry.seed : config.seed, config, summary, rows }
  })

/**
 * What the report shows of the sweep's definition: its axes, cases and seeds, how many runs, and the config of its first
 * run (sweep.json holds every run's config; the report shows one). A folder without sweep.json shows its run's config.
 */
export const sweepSummary = (folder: string, firstConfig: unknown) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const stored = yield* store.readJson(store.join(folder, "sweep.json")).pipe(Effect.orElseSucceed(() => Option.none<unknown>()))
    const value = Option.getOrUndefined(stored) as { runs?: ReadonlyArray<unknown> } | undefined
    if (value === undefined || !Array.isArray(value.runs)) return JSON.stringify(value ?? firstConfig, null, 2)
    const { runs, ...rest } = value
    return JSON.stringify({ ...rest, runs: runs.length, firstRun: runs[0] }, null, 2)
  })

/** Renders figures into `out` (<name>.vl.json, .svg, .png) and collects them for the documents. */
export const makeFigureSink = (out: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const renderer = yield* FigureRenderer
    yield* store.ensureDir(out)
    yield* store.removeTemporaries(out)
    const figures: Array<ReportFigure> = []
    const emit = (name: string, caption: string, spec: TopLevelSpec) =>
      Effect.gen(function* () {
        const { svg, png } = yield* renderer.render(spec)
        yield* store.writeJson(store.join(out, `${name}.vl.json`), spec)
        yield* store.writeText(store.join(out, `${name}.svg`), svg)
        yield* store.writeBytes(store.join(out, `${name}.png`), png)
        figures.push({ name, caption, svg })
      })
    return { figures, emit }
  })

export const escapeHtml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

export const markdownTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")

const htmlTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  `<table><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`

/** A section's markdown as HTML: table lines become a table, other lines paragraphs. */
const sectionHtml = (md: string) => {
  const blocks: Array<string> = []
  let table: Array<string> = []
  const flush = () => {
    if (table.length >= 2) {
      const cells = (line: string) => line.split("|").slice(1, -1).map((c) => c.trim().replace(/\*\*(.*)\*\*/, "$1"))
      blocks.push(htmlTable(cells(table[0]!), table.slice(2).map(cells)))
    }
    table = []
  }
  for (const line of md.split("\n")) {
    if (line.startsWith("|")) table.push(line)
    else {
      flush()
      if (line.trim() !== "" && !line.startsWith("#")) blocks.push(`<p>${escapeHtml(line)}</p>`)
    }
  }
  flush()
  return blocks.join("\n")
}

/** A section of a report after its figures: a heading and markdown (prose and tables). */
export interface ReportSection {
  readonly heading: string
  readonly markdown: string
}

export interface ReportDocument {
  readonly title: string
  readonly intro: string
  readonly figures: ReadonlyArray<ReportFigure>
  readonly skipped: ReadonlyArray<string>
  /** Markdown sections after the figures: prose and tables. */
  readonly sections: ReadonlyArray<ReportSection>
  readonly config: string
}

/** Writes report.html and report.md into `out`. */
export const writeReportDocuments = (out: string, doc: ReportDocument) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.title)}</title>
<style>body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
figure{margin:2em 0}figcaption{font-size:0.9em;color:#444;max-width:900px}table{border-collapse:collapse;font-size:0.85em;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:0.8em}
.figure svg{max-width:100%;height:auto}</style></head><body>
<h1>${escapeHtml(doc.title)}</h1>
<p>${escapeHtml(doc.intro)}</p>
${doc.figures.map((f) => `<figure class="figure" id="${f.name}">${f.svg}<figcaption><b>${escapeHtml(f.name)}.</b> ${escapeHtml(f.caption)}</figcaption></figure>`).join("\n")}
${doc.skipped.length > 0 ? `<h2>Not drawn</h2><ul>${doc.skipped.map((s) => `<li>${escapeHtml(s)}</li>`).join("")}</ul>` : ""}
${doc.sections.map((s) => `<h2>${escapeHtml(s.heading)}</h2>${sectionHtml(s.markdown)}`).join("\n")}
<h2>Config</h2><pre>${escapeHtml(doc.config)}</pre>
</body></html>
`
    yield* store.writeText(store.join(out, "report.html"), html)
    const markdown = [
      `# ${doc.title}`,
      "",
      doc.intro,
      "",
      ...doc.figures.flatMap((f) => [`![${f.name}](${f.name}.svg)`, "", `**${f.name}.** ${f.caption}`, ""]),
      ...(doc.skipped.length > 0 ? ["## Not drawn", "", ...doc.skipped.map((s) => `- ${s}`), ""] : []),
      ...doc.sections.flatMap((s) => [`## ${s.heading}`, "", s.markdown.trim(), ""]),
      "## Config",
      "",
      "```json",
      doc.config.trim(),
      "```",
      ""
    ].join("\n")
    yield* store.writeText(store.join(out, "report.md"), markdown)
    // A figure an earlier report drew and this one does not (runs added to the sweep move the configurations a figure
    // shows; a newer version draws other figures) is removed: the folder holds this report's figures and no others.
    // A figure is known by its spec, <name>.vl.json; other files a person put there are left alone.
    const drawn = new Set(doc.figures.map((f) => f.name))
    const files = yield* store.list(out)
    const stale = files.filter((file) => file.endsWith(".vl.json")).map((file) => file.slice(0, -".vl.json".length)).filter((name) => !drawn.has(name))
    const staleFiles = stale.flatMap((name) => [`${name}.svg`, `${name}.png`, `${name}.vl.json`]).filter((file) => files.includes(file))
    yield* Effect.forEach(staleFiles, (file) => store.remove(store.join(out, file)), { discard: true })
  })
