/**
 * The report of classification runs (the paper's figures): alignment through training, per-context scatters, example
 * contexts, the CA-KGD landscape, final loss and c_σ along a task axis, and trained models at other context lengths.
 */
import { Effect, Either, Option } from "effect"
import { decodeConfig, type ExperimentConfig } from "../../domain/classification/Config.js"
import { formatIssue } from "../../domain/ConfigSchema.js"
import { StoreError } from "../../domain/Errors.js"
import type { EvaluationPoint } from "../../services/classification/MetricsCollector.js"
import { alignmentFigure, band, type BandPoint, scatterFigure, seriesFigure } from "../../domain/Figures.js"
import {
  contextsFigure,
  type ContextPanel,
  type LandscapeCell,
  landscapeFigure,
  learnerScales,
  referenceName,
  type TrajectoryPoint
} from "../../domain/classification/Figures.js"
import type { GridResult } from "../../domain/classification/GridSearch.js"
import { type Bounds, COSINE, formatEstimate, formatInterval, meanInterval, NON_NEGATIVE } from "../../domain/Results.js"
import { exampleTask } from "../../domain/classification/Task.js"
import { RunStore } from "../../services/RunStore.js"
import { basinSections } from "./BasinReport.js"
import { evaluateAtContextLengths } from "./ContextLengths.js"
import { adaptabilityPart } from "./ReportAdaptability.js"
import { trainingPart } from "./ReportTraining.js"
import { oodPart, representativeGroups } from "./ReportOod.js"
import {
  type ReportSection,
  type FinishedRun,
  loadStoredRun,
  makeFigureSink,
  markdownTable,
  type Report,
  writeReportDocuments,
  sweepSummary
} from "../ReportDocuments.js"
import type { RunSummary } from "./Run.js"

export interface StoredRun {
  readonly id: string
  readonly dir: string
  readonly seed: number
  readonly axes: Readonly<Record<string, unknown>>
  readonly config: ExperimentConfig
  readonly summary: RunSummary
  readonly rows: ReadonlyArray<EvaluationPoint>
}

export interface Group {
  readonly label: string
  readonly axes: Readonly<Record<string, unknown>>
  readonly runs: ReadonlyArray<StoredRun>
}

/** Contexts per set at each other context length: enough for a loss to ±0.01, few enough to keep the report quick. */
const LENGTH_SET = 2000
const lengthSetSize = (config: ExperimentConfig) => Math.min(LENGTH_SET, config.evaluation.size)

/** At most this many contexts per scatter: enough to see the cloud, small enough for an inline SVG. */
const SCATTER_POINTS = 1500
const TASK_AXES = ["task.n", "task.d", "task.C", "task.noise"] as const
/** Axis titles of the task fields a sweep varies: the paper's symbol and what it is. */
const AXIS_TITLES: Readonly<Record<(typeof TASK_AXES)[number], string>> = {
  "task.n": "n (context length)",
  "task.d": "d (input dimension)",
  "task.C": "C (number of classes)",
  "task.noise": "ε (class noise)"
}
/** A file name made of a configuration's label: "softmax SA, n=16" → "softmax-n16". */
const slug = (label: string) =>
  label
    .replace(/ SA\b/g, "")
    .replace(/[=.]/g, "")
    .replace(/[^A-Za-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase()

const groupLabel = (axes: Readonly<Record<string, unknown>>, attention: string) => {
  const parts = Object.entries(axes)
    .filter(([path]) => path !== "model.attention")
    .map(([path, v]) => `${path.split(".").pop()}=${JSON.stringify(v)}`)
  return [`${attention} SA`, ...parts].join(", ")
}

export const parseCsv = (text: string) => {
  const [header, ...lines] = text.trim().split("\n")
  const columns = header!.split(",")
  return lines.map((line) => {
    const cells = line.split(",")
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] === "" || cells[i] === undefined ? Number.NaN : Number(cells[i])])) as Record<string, number>
  })
}

/** The finished runs, each config read through the schema (fields added after a run was stored get their neutral value). */
const loadRuns = (entries: ReadonlyArray<FinishedRun>) =>
  Effect.forEach(entries, (entry) =>
    Effect.gen(function* () {
      const run = yield* loadStoredRun<{ readonly seed: number }, RunSummary, EvaluationPoint>(entry)
      // Decoded as a config file is: a run stored before an option existed gets the option's default.
      const decoded = decodeConfig(run.config)
      if (Either.isLeft(decoded)) {
        return yield* new StoreError({ reason: "Corrupt", path: `${entry.dir}/config.json`, detail: decoded.left.map(formatIssue).join("; ") })
      }
      const config = decoded.right
      return { ...run, seed: entry.seed >= 0 ? entry.seed : config.seed, config } satisfies StoredRun
    })
  )

const groupRuns = (runs: ReadonlyArray<StoredRun>): Array<Group> => {
  const groups = new Map<string, Array<StoredRun>>()
  for (const run of runs) {
    const key = JSON.stringify([run.axes, run.config.model.attention])
    groups.set(key, [...(groups.get(key) ?? []), run])
  }
  return [...groups.values()].map((members) => {
    const sorted = [...members].sort((a, b) => a.seed - b.seed)
    return { label: groupLabel(sorted[0]!.axes, sorted[0]!.config.model.attention), axes: sorted[0]!.axes, runs: sorted }
  })
}

type Pick = (p: EvaluationPoint) => number | undefined
/** The alignment figure's metrics: axis titles with what each measures; model diff on a log axis. */
const ALIGNMENT_METRICS = [
  { metric: "model cos", title: "model cos (1: same ∂z/∂x_q)" },
  { metric: "preds diff", title: "preds diff ‖p − p_ref‖₂" },
  { metric: "model diff", title: "model diff ‖J̃ − J̃_ref‖₂ (log)", log: true }
]
const ALIGNMENT_BOUNDS: Readonly<Record<string, Bounds>> = { "model cos": COSINE, "preds diff": NON_NEGATIVE, "model diff": NON_NEGATIVE }
const AGAINST: ReadonlyArray<readonly [string, string, Pick]> = [
  ["model cos", "GD at extracted parameters", (p) => p.alignment.atExtracted.modelCos],
  ["model cos", "GD* (grid optimum)", (p) => p.alignment.atGridOptimum.modelCos],
  ["model cos", "GD* in the learned basin", (p) => p.alignment.atBasinOptimum?.modelCos],
  ["preds diff", "GD at extracted parameters", (p) => p.alignment.atExtracted.predsDiff],
  ["preds diff", "GD* (grid optimum)", (p) => p.alignment.atGridOptimum.predsDiff],
  ["preds diff", "GD* in the learned basin", (p) => p.alignment.atBasinOptimum?.predsDiff],
  ["model diff", "GD at extracted parameters", (p) => p.alignment.atExtracted.modelDiff],
  ["model diff", "GD* (grid optimum)", (p) => p.alignment.atGridOptimum.modelDiff],
  ["model diff", "GD* in the learned basin", (p) => p.alignment.atBasinOptimum?.modelDiff]
]

const alignmentData = (groups: ReadonlyArray<Group>) =>
  groups.flatMap((group) => {
    const steps = group.runs[0]!.rows.map((r) => r.step)
    return steps.flatMap((step, i) =>
      AGAINST.flatMap(([metric, series, pick]) => {
        const values = group.runs
          .map((run) => run.rows[i])
          .filter((p): p is EvaluationPoint => p !== undefined)
          .map((p) => pick(p) ?? Number.NaN)
          .filter(Number.isFinite)
        return values.length === 0 ? [] : [{ panel: group.label, metric, series, x: step, ...band(values, ALIGNMENT_BOUNDS[metric]) }]
      })
    )
  })

const landscapeCells = (landscape: GridResult["landscape"]): Array<LandscapeCell> => {
  // Cell edges halfway between neighbouring grid values (geometric within a sign, arithmetic across zero).
  const edges = (values: ReadonlyArray<number>) => {
    const mid = (a: number, b: number) => (a * b > 0 ? Math.sign(a) * Math.sqrt(a * b) : (a + b) / 2)
    const inner = values.slice(1).map((v, i) => mid(values[i]!, v))
    const first = values.length > 1 ? values[0]! - (inner[0]! - values[0]!) : values[0]! - 1
    const last = values.length > 1 ? values[values.length - 1]! + (values[values.length - 1]! - inner[inner.length - 1]!) : values[0]! + 1
    return [first, ...inner, last]
  }
  const xs = edges(landscape.cSigma)
  const ys = edges(landscape.scale)
  return landscape.cSigma.flatMap((_, i) =>
    landscape.scale.map((__, j) => ({ x0: xs[i]!, x1: xs[i + 1]!, y0: ys[j]!, y1: ys[j + 1]!, loss: landscape.loss[i]![j]! }))
  )
}

/** Trained models' final losses spanning more than this factor are drawn on a log axis. */
const LOG_LOSS_SPAN = 20

/**
 * The final-loss figure's y axis. When the trained models' mean losses span more than LOG_LOSS_SPAN (a sweep over d:
 * 0.82 at d = 2, 0.0032 at d = 20), a linear axis flattens the small ones onto zero, so the axis is logarithmic from
 * the power of ten at or below the smallest mean drawn; a reference more than 100 times below every trained model
 * (CA-KGD* ≈ 10⁻⁹ at ε = 0) does not set the axis (the caption names it).
 */
export const finalLossAxis = (points: ReadonlyArray<BandPoint>): { readonly span: number; readonly logYFrom?: number } => {
  const models = points.filter((p) => !p.series.endsWith("*")).map((p) => p.mean).filter((v) => v > 0 && Number.isFinite(v))
  if (models.length === 0) return { span: 1 }
  const smallest = Math.min(...models)
  const span = Math.max(...models) / smallest
  if (span <= LOG_LOSS_SPAN) return { span }
  const drawn = points.map((p) => p.mean).filter((v) => v >= smallest / 100)
  return { span, logYFrom: Number(`1e${Math.floor(Math.log10(Math.min(...drawn)))}`) }
}

/** The classification report of a folder's finished runs. */
export const makeClassificationReport = (folder: string, entries: ReadonlyArray<FinishedRun>) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const runs = yield* loadRuns(entries)
    const groups = groupRuns(runs)
    const out = store.join(folder, "report")
    const { figures, emit } = yield* makeFigureSink(out)
    const skipped: Array<string> = []

    // Alignment through training (Figures 4a, 5a).
    const finalCos = groups.map((g) => `${g.label}: ${formatInterval(meanInterval(g.runs.map((r) => r.summary.final.alignment.atExtracted.modelCos)))}`)
    yield* emit(
      "alignment",
      `Alignment of each trained model with its GD reference through training, mean and 95% band over seeds. Final model cos at the extracted parameters: ${finalCos.join("; ")}.`,
      alignmentFigure(alignmentData(groups), "Alignment with the GD reference through training", ALIGNMENT_METRICS)
    )

    // Per-context scatters (Figures 4b–d, 5b–d), for the first seed of at most two configurations per attention kind,
    // those nearest the paper's main setting (n = 100, d = 5, C = 5, ε = 0.5) first.
    const scatterGroups = representativeGroups(groups, 2)
    for (const group of scatterGroups) {
      const run = group.runs[0]!
      const text = yield* store.readText(store.join(run.dir, "per-context.csv"))
      if (Option.isNone(text)) {
        skipped.push(`per-context scatter of ${group.label}: no per-context.csv (output.perContext was false)`)
        continue
      }
      const rows = parseCsv(text.value)
      const panels = (
        [
          ["loss (nats)", "model_loss", "extracted_loss"],
          ["p(correct class)", "model_p_correct", "extracted_p_correct"],
          ["entropy (nats)", "model_entropy", "extracted_entropy"]
        ] as const
      ).map(([metric, model, reference]) => ({
        metric,
        points: rows.slice(0, SCATTER_POINTS).map((r) => ({ reference: r[reference]!, model: r[model]! })),
        meanReference: meanInterval(rows.map((r) => r[reference]!)).mean,
        meanModel: meanInterval(rows.map((r) => r[model]!)).mean
      }))
      const reference = run.summary.final.reference.kind
      yield* emit(
        `per-context-${slug(group.label)}`,
        `${group.label} (seed ${run.seed}) against ${reference} at its extracted parameters, one point per evaluation context (${Math.min(rows.length, SCATTER_POINTS)} of ${rows.length} shown; dotted lines at the means over all): loss ${panels[0]!.meanModel.toFixed(4)} vs ${panels[0]!.meanReference.toFixed(4)}.`,
        scatterFigure(panels, `${group.label}: per-context model vs ${referenceName(reference)}`, `${referenceName(reference)} at the extracted parameters`)
      )
    }

    // Example contexts (Figure 2): d = 2 and d = 3 with n = 100 as in the paper, the first run's task otherwise.
    const baseTask = runs[0]!.config.task
    const panels: Array<ContextPanel> = []
    for (const d of [2, 3]) {
      const { batch, classVectors } = exampleTask({ ...baseTask, d, n: 100 }, 7)
      const views = d === 2 ? [[0, 1]] : [[0, 1], [0, 2], [1, 2]]
      for (const [a, b] of views) {
        panels.push({
          view: d === 2 ? "d = 2" : `d = 3, coordinates (${a! + 1}, ${b! + 1})`,
          xTitle: `x_${a! + 1} (input coordinate)`,
          yTitle: `x_${b! + 1} (input coordinate)`,
          points: Array.from({ length: batch.n }, (_, i) => ({ u: batch.x[i * d + a!]!, v: batch.x[i * d + b!]!, label: `class ${batch.labels[i]! + 1}` })),
          arrows: Array.from({ length: baseTask.C }, (_, c) => ({ u: classVectors[c * d + a!]!, v: classVectors[c * d + b!]!, label: `class ${c + 1}` }))
        })
      }
    }
    yield* emit(
      "contexts",
      `Two example contexts of the ${baseTask.family} task with C = ${baseTask.C}, n = 100, noise ${baseTask.noise}: class vectors as arrows (triangle at the tip), context points coloured by label; d = 3 as three coordinate projections.`,
      contextsFigure(panels, "Example contexts")
    )

    // The CA-KGD landscape of one configuration (the softmax one nearest the main setting) with its softmax models'
    // learned parameters through training: the landscape depends on the task, so runs of other settings (another n,
    // d, C or ε) would be drawn on a landscape that is not theirs.
    const landscapeGroup = representativeGroups(groups).find((g) => g.runs[0]!.config.model.attention === "softmax")
    const softmax = landscapeGroup?.runs ?? []
    if (softmax.length > 0) {
      const references = (yield* store.readJson(store.join(softmax[0]!.dir, "references.json"))) as Option.Option<Record<string, GridResult>>
      const grid = Option.getOrUndefined(references)?.["ca-kgd"]
      if (grid) {
        const trajectories: Array<TrajectoryPoint> = softmax.flatMap((run) =>
          run.rows
            .filter((p) => p.step > 0)
            .map((p, i, all) => ({ run: `seed ${run.seed}`, step: p.step, cSigma: p.extracted.params.cSigma, scale: p.extracted.params.scale, last: i === all.length - 1 }))
        )
        const kinds = softmax.map((r) => r.summary.final.extracted.solution)
        const count = (kind: string) => kinds.filter((k) => k === kind).length
        yield* emit(
          "landscape",
          `Mean CE of CA-KGD over (c_σ, b) at ${landscapeGroup!.label}${groups.length > 1 ? " (the softmax configuration nearest the main setting)" : ""}, on the first scanned grid-search tasks, both signs of each; white lines: its softmax models' (c_σ, b) read off their weights through training, red diamonds at the end. Selection basin (c_σ > 0) optimum ${grid.selection ? `${grid.selection.loss.toFixed(4)} at c_σ = ${grid.selection.cSigma.toFixed(1)}` : "—"}; elimination basin (c_σ < 0) optimum ${grid.elimination ? `${grid.elimination.loss.toFixed(4)} at c_σ = ${grid.elimination.cSigma.toFixed(1)}` : "—"}. Seeds: ${count("selection")} selection, ${count("elimination")} elimination${count("mixed") > 0 ? `, ${count("mixed")} mixed` : ""}.`,
          landscapeFigure(landscapeCells(grid.landscape), trajectories, `CA-KGD loss landscape and learned parameters: ${landscapeGroup!.label}`, Math.log(softmax[0]!.config.task.C))
        )
      }
    } else skipped.push("CA-KGD landscape: no softmax-attention run")

    // The basin study: fraction selection per setting, when the basin is decided, what predicts it.
    const basinTables = yield* basinSections(runs, emit)

    // Final loss and learned c_σ along a task axis of the sweep.
    let axisTable: ReportSection | undefined
    const axis = TASK_AXES.find((path) => runs.some((r) => path in r.axes))
    if (axis === undefined) {
      skipped.push("final loss and learned c_σ along an axis: the sweep has no axis over task.n, task.d, task.C or task.noise")
    } else {
      const otherKey = (run: StoredRun) =>
        Object.entries(run.axes)
          .filter(([p]) => p !== axis && p !== "model.attention")
          .map(([p, v]) => `${p.split(".").pop()}=${JSON.stringify(v)}`)
          .join(", ") || "all"
      const byPoint = new Map<string, Array<StoredRun>>()
      for (const run of runs) {
        const key = JSON.stringify([otherKey(run), run.axes[axis], run.config.model.attention])
        byPoint.set(key, [...(byPoint.get(key) ?? []), run])
      }
      const lossPoints: Array<BandPoint> = []
      const cSigmaPoints: Array<BandPoint> = []
      const referencesSeen = new Set<string>()
      // The table along the axis: trained models over seeds, references with their SE over contexts.
      const tableRows = new Map<string, Record<string, string>>()
      const cell = (panel: string, x: number) => {
        const key = JSON.stringify([panel, x])
        const row = tableRows.get(key) ?? { panel, [AXIS_TITLES[axis]]: String(x) }
        tableRows.set(key, row)
        return row
      }
      for (const members of byPoint.values()) {
        const first = members[0]!
        const x = Number(first.axes[axis])
        const panel = otherKey(first)
        const series = `${first.config.model.attention} SA`
        const losses = members.map((r) => r.summary.final.model.loss)
        lossPoints.push({ panel, series, x, ...band(losses, NON_NEGATIVE) })
        const overSeeds = meanInterval(losses, NON_NEGATIVE)
        cell(panel, x)[series] = `${formatEstimate({ mean: overSeeds.mean, se: overSeeds.se })} (${overSeeds.count})`
        const refKey = JSON.stringify([panel, x])
        if (!referencesSeen.has(refKey)) {
          referencesSeen.add(refKey)
          for (const [kind, label] of [["gd-linear", "GD-lin*"], ["kgd-fixed", "KGD-fixed*"], ["ca-kgd", "CA-KGD*"], ["ca-gd-linear", "CA-GD-lin*"]] as const) {
            const references = members.map((r) => r.summary.references[kind]).filter((r) => r !== undefined)
            if (references.length === 0) continue
            lossPoints.push({ panel, series: label, x, ...band(references.map((r) => r.evaluation.loss), NON_NEGATIVE) })
            // Every seed of a configuration shares its reference (one grid-search set, one evaluation set).
            cell(panel, x)[label] = formatEstimate({ mean: references[0]!.evaluation.loss, se: references[0]!.evaluationSe?.loss ?? Number.NaN })
          }
          cSigmaPoints.push({ panel, series: "grid optimum, selection", x, ...band(members.map((r) => r.summary.references["ca-kgd"].selection?.cSigma ?? Number.NaN)) })
          cSigmaPoints.push({ panel, series: "grid optimum, elimination", x, ...band(members.map((r) => r.summary.references["ca-kgd"].elimination?.cSigma ?? Number.NaN)) })
        }
        if (first.config.model.attention === "softmax") {
          // Learned c_σ within each basin: seeds of both kinds averaged together describe no model.
          for (const kind of ["selection", "elimination"] as const) {
            const ofKind = members.filter((r) => r.summary.final.extracted.solution === kind)
            if (ofKind.length > 0) cSigmaPoints.push({ panel, series: `learned, ${kind} seeds`, x, ...band(ofKind.map((r) => r.summary.final.extracted.cSigma ?? Number.NaN)) })
          }
        }
      }
      const logX = axis !== "task.noise"
      const axisTitle = AXIS_TITLES[axis]
      const lossSeries = lossPoints.map((p) => p.series)
      const lossY = finalLossAxis(lossPoints)
      const below = lossY.logYFrom === undefined ? [] : lossPoints.filter((p) => p.mean < lossY.logYFrom!)
      yield* emit(
        "final-loss",
        `Final evaluation loss along ${axisTitle}, mean and 95% interval over seeds: trained models (solid) next to the grid-optimal references (dashed; GD-lin*, KGD-fixed*, CA-KGD*, CA-GD-lin*), each model in the colour of the reference it implements.${
          lossY.logYFrom === undefined
            ? ""
            : ` Log axis (the trained models' losses span a factor ${lossY.span.toFixed(0)}) from ${lossY.logYFrom}${below.length === 0 ? "" : `; below it, drawn at its lower end: ${below.map((p) => `${p.series} ${p.mean.toPrecision(2)} at ${p.x}`).join(", ")}`}.`
        }`,
        seriesFigure(lossPoints, `Final loss along ${axisTitle}`, axisTitle, "mean cross-entropy (nats)", logX, {
          ...learnerScales(lossSeries, (name) => name.endsWith("*")),
          ...(lossY.logYFrom === undefined ? {} : { logYFrom: lossY.logYFrom })
        })
      )
      const cSigmaSeries = [...new Set(cSigmaPoints.map((p) => p.series))]
      // c_σ of both signs spanning decades (a grid optimum at 1000 beside learned values near 15) on a symlog axis, so
      // that the large one does not flatten the others.
      const cSigmaMagnitudes = cSigmaPoints.map((p) => Math.abs(p.mean)).filter((v) => v > 0 && Number.isFinite(v))
      const cSigmaSymlog = cSigmaMagnitudes.length > 0 && Math.max(...cSigmaMagnitudes) / Math.min(...cSigmaMagnitudes) > LOG_LOSS_SPAN
      if (cSigmaSeries.some((name) => name.startsWith("learned"))) {
        yield* emit(
          "c-sigma",
          `Learned c_σ of the softmax models (solid; mean and 95% interval over the seeds of each basin) against the grid-optimal c_σ of CA-KGD in each basin (dashed) along ${axisTitle}${cSigmaSymlog ? "; symlog axis (linear within ±1)" : ""}.`,
          seriesFigure(cSigmaPoints, `Learned and grid-optimal c_σ along ${axisTitle}`, axisTitle, `c_σ (inverse kernel width${cSigmaSymlog ? "; symlog" : ""})`, logX, {
            ...(cSigmaSymlog ? { symlogY: 1 } : {}),
            color: { domain: cSigmaSeries, range: cSigmaSeries.map((name) => (name.includes("selection") ? (name.startsWith("learned") ? "#2ca02c" : "#74c476") : name.startsWith("learned") ? "#d62728" : "#ff9896")) },
            strokeDash: { domain: cSigmaSeries, range: cSigmaSeries.map((name) => (name.startsWith("learned") ? [1, 0] : [6, 3])) }
          })
        )
      }
      const learners = ["linear SA", "exp SA", "softmax SA", "GD-lin*", "KGD-fixed*", "CA-KGD*", "CA-GD-lin*"].filter((l) => lossSeries.includes(l))
      const ordered = [...tableRows.values()].sort((a, b) => a["panel"]!.localeCompare(b["panel"]!) || Number(a[axisTitle]) - Number(b[axisTitle]))
      const panels = new Set(ordered.map((r) => r["panel"]))
      const header = [...(panels.size > 1 ? ["panel"] : []), axisTitle, ...learners]
      axisTable = {
        heading: `Final loss along ${axisTitle}`,
        markdown: [
          "Trained models: mean ± SE over seeds (number of seeds); references: loss at the grid optimum ± SE over evaluation contexts.",
          "",
          [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...ordered.map((r) => `| ${header.map((h) => r[h] ?? "—").join(" | ")} |`)].join("\n")
        ].join("\n")
      }
    }

    // Context lengths other than the trained one.
    const lengthPoints: Array<BandPoint> = []
    // One configuration per attention kind, the one nearest the main setting.
    for (const group of representativeGroups(groups)) {
      const n = group.runs[0]!.config.task.n
      const lengths = [Math.max(2, Math.round(n / 4)), Math.max(2, Math.round(n / 2)), n, 2 * n, 4 * n]
      const results = yield* Effect.forEach(group.runs, (run) =>
        evaluateAtContextLengths(run.dir, lengths, lengthSetSize(run.config))
      )
      lengths.forEach((length, i) => {
        lengthPoints.push({ panel: group.label, series: "trained model", x: length, ...band(results.map((r) => r[i]!.modelLoss)) })
        lengthPoints.push({ panel: group.label, series: "GD reference* (extracted parameters)", x: length, ...band(results.map((r) => r[i]!.referenceLoss)) })
      })
    }
    yield* emit(
      "context-length",
      `Loss of the trained models (one configuration per attention kind, the one nearest the main setting) evaluated at context lengths other than the trained one (n/4 … 4n), next to their GD reference at the parameters read off the weights (c_η = n·b follows n); mean and 95% interval over seeds. Each length is evaluated on a set of ${lengthSetSize(runs[0]!.config)} contexts (a subset of the size of the runs' own evaluation set, ${runs[0]!.config.evaluation.size}).`,
      seriesFigure(lengthPoints, "Evaluation at other context lengths", "n (context length at evaluation)", "mean cross-entropy (nats)", true, {
        color: { domain: ["trained model", "GD reference* (extracted parameters)"], range: ["#2c7fb8", "#d95f0e"] },
        strokeDash: { domain: ["trained model", "GD reference* (extracted parameters)"], range: [[1, 0], [6, 3]] }
      })
    )

    // Final weights and training curves (spec E1 extras).
    const training = yield* trainingPart(groups, emit)
    skipped.push(...training.skipped)

    // Adaptability to context (spec E10) and out-of-distribution evaluation (spec E9).
    const adaptability = yield* adaptabilityPart(groups, emit)
    skipped.push(...adaptability.skipped)
    const ood = yield* oodPart(groups, emit)
    skipped.push(...ood.skipped)

    // Tables and the report documents.
    const aggregateMd = Option.getOrElse(yield* store.readText(store.join(folder, "aggregate.md")), () => "")
    const sweepJson = yield* sweepSummary(folder, runs[0]!.config)
    const resultRows = runs.map((r) => {
      const f = r.summary.final
      const u = r.summary.uncertainty
      const withSe = (value: number, se: number | undefined, digits = 4) =>
        se === undefined ? value.toFixed(digits) : formatEstimate({ mean: value, se }, digits)
      return [
        r.id,
        String(r.seed),
        `${r.config.model.attention}`,
        Object.entries(r.axes).filter(([p]) => p !== "model.attention").map(([p, v]) => `${p}=${JSON.stringify(v)}`).join(" ") || "—",
        withSe(f.model.loss, u?.model.loss),
        withSe(f.model.accuracy, u?.model.accuracy, 3),
        withSe(f.reference.atExtracted.loss, u?.reference.atExtracted.loss),
        u ? formatEstimate(u.modelMinusReference.atGridOptimum.loss) : "—",
        f.alignment.atExtracted.modelCos.toFixed(4),
        f.extracted.eta !== null ? `η ${f.extracted.eta.toFixed(2)}` : `c_σ ${f.extracted.cSigma?.toFixed(2)}, c_η ${f.extracted.cEta?.toFixed(1)}`,
        f.extracted.solution ?? "—"
      ]
    })
    const resultHeader = [
      "run",
      "seed",
      "attention",
      "axes",
      "loss ± SE",
      "accuracy ± SE",
      "reference loss (extracted) ± SE",
      "model − GD* loss ± paired SE",
      "model cos",
      "learned",
      "solution"
    ]
    yield* writeReportDocuments(out, {
      title: `icl-gd report: ${folder.split("/").pop()}`,
      intro: `${runs.length} finished run${runs.length === 1 ? "" : "s"} in ${groups.length} configuration${groups.length === 1 ? "" : "s"}. Made from stored results by pnpm start report.`,
      figures,
      skipped,
      sections: [
        { heading: "Aggregate over seeds", markdown: aggregateMd.split("\n").filter((l) => l.startsWith("|")).join("\n") || "(a single run)" },
        ...basinTables,
        ...(axisTable === undefined ? [] : [axisTable]),
        ...adaptability.sections,
        ...ood.sections,
        { heading: "Runs", markdown: markdownTable(resultHeader, resultRows) }
      ],
      config: sweepJson
    })
    return { dir: out, figures, skipped } satisfies Report
  })
