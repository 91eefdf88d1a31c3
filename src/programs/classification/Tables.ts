/**
 * The results tables of a classification sweep: one row per run (config, final metrics, learned parameters, solution
 * kind, the grid-optimal references), and the aggregate over seeds of each configuration with the split of learned
 * solutions (selection / elimination).
 */
import type { ExperimentConfig } from "../../domain/classification/Config.js"
import {
  aggregate,
  aggregateRow,
  type Cell,
  type Bounds,
  COSINE,
  formatInterval,
  groupRows,
  intervalColumns,
  type MeanInterval,
  NON_NEGATIVE,
  PROBABILITY,
  type ResultRow,
  runColumns,
  runsCell,
  toMarkdown
} from "../../domain/Results.js"
import type { RunState, SweepRun } from "../../domain/Sweep.js"
import type { RunSummary } from "./Run.js"
import { formatProportion, type Proportion, wilsonInterval } from "../../domain/Binomial.js"

/** Per aggregate group (in the order of `aggregate`'s groups): the seeds in the selection basin, and runs stopped early. */
const basinCounts = (rows: ReadonlyArray<ResultRow>, keyColumns: ReadonlyArray<string>) =>
  groupRows(rows, keyColumns).map((members) => {
    const finished = members.filter((r) => r["status"] === "done")
    const withBasin = finished.filter((r) => r["basin"] === "selection" || r["basin"] === "elimination")
    return {
      selection: wilsonInterval(withBasin.filter((r) => r["basin"] === "selection").length, withBasin.length),
      stoppedEarly: finished.filter((r) => typeof r["stopped_early_at"] === "number").length
    }
  })

const basinColumns = (counts: { readonly selection: Proportion; readonly stoppedEarly: number }): ResultRow => ({
  basin_seeds: counts.selection.trials,
  selection_fraction: counts.selection.trials > 0 ? counts.selection.estimate : null,
  selection_ci95_lower: counts.selection.trials > 0 ? counts.selection.lower : null,
  selection_ci95_upper: counts.selection.trials > 0 ? counts.selection.upper : null,
  stopped_early: counts.stoppedEarly
})

/** Metrics aggregated over the seeds of each configuration. */
export const AGGREGATED_METRICS = [
  "final_loss",
  "accuracy",
  "p_correct",
  "entropy",
  "ref_loss_extracted",
  "ref_loss_grid",
  "loss_gap_grid",
  "model_cos_extracted",
  "model_cos_grid",
  "model_cos_basin",
  "gd_linear_star",
  "kgd_fixed_star",
  "ca_kgd_star",
  "ca_gd_linear_star",
  "eta"
] as const

/**
 * The learned kernel parameters: aggregated within each learned solution kind only (selection, elimination), since
 * seeds of different kinds sit in different basins of the loss and their mean describes no model.
 */
export const BASIN_PARAMETERS = ["c_sigma", "c_eta", "b"] as const

/** The ranges of bounded metrics: their intervals over seeds are clipped to them. */
const metricBounds = (rows: ReadonlyArray<ResultRow>): Readonly<Record<string, Bounds>> => {
  const largestC = Math.max(2, ...rows.map((r) => (typeof r["C"] === "number" ? r["C"] : 2)))
  return {
    final_loss: NON_NEGATIVE,
    ref_loss_extracted: NON_NEGATIVE,
    ref_loss_grid: NON_NEGATIVE,
    gd_linear_star: NON_NEGATIVE,
    kgd_fixed_star: NON_NEGATIVE,
    ca_kgd_star: NON_NEGATIVE,
    ca_gd_linear_star: NON_NEGATIVE,
    accuracy: PROBABILITY,
    p_correct: PROBABILITY,
    // The entropy of a distribution over C classes lies in [0, ln C].
    entropy: [0, Math.log(largestC)],
    model_cos_extracted: COSINE,
    model_cos_grid: COSINE,
    model_cos_basin: COSINE
  }
}

/** The result row of a run: config axes, final metrics, learned parameters, solution kind, wall time. */
export const classificationRow = (
  run: SweepRun,
  state: RunState,
  summary: RunSummary | undefined,
  wallSeconds: number | null,
  error: string | null
): ResultRow => {
  const config = run.config as ExperimentConfig
  const f = summary?.final
  const refs = summary?.references
  const u = summary?.uncertainty
  return {
    ...runColumns(run),
    attention: config.model.attention,
    family: config.task.family,
    d: config.task.d,
    C: config.task.C,
    n: config.task.n,
    noise: config.task.noise,
    steps: config.training.steps,
    status: state,
    final_loss: f?.model.loss ?? null,
    final_loss_se: u?.model.loss ?? null,
    accuracy: f?.model.accuracy ?? null,
    accuracy_se: u?.model.accuracy ?? null,
    p_correct: f?.model.pCorrect ?? null,
    p_correct_se: u?.model.pCorrect ?? null,
    entropy: f?.model.entropy ?? null,
    entropy_se: u?.model.entropy ?? null,
    reference: f?.reference.kind ?? null,
    ref_loss_extracted: f?.reference.atExtracted.loss ?? null,
    ref_loss_extracted_se: u?.reference.atExtracted.loss ?? null,
    ref_loss_grid: f?.reference.atGridOptimum.loss ?? null,
    ref_loss_grid_se: u?.reference.atGridOptimum.loss ?? null,
    loss_gap_extracted: u?.modelMinusReference.atExtracted.loss.mean ?? null,
    loss_gap_extracted_se: u?.modelMinusReference.atExtracted.loss.se ?? null,
    loss_gap_grid: u?.modelMinusReference.atGridOptimum.loss.mean ?? null,
    loss_gap_grid_se: u?.modelMinusReference.atGridOptimum.loss.se ?? null,
    model_cos_extracted: f?.alignment.atExtracted.modelCos ?? null,
    model_cos_grid: f?.alignment.atGridOptimum.modelCos ?? null,
    basin: f?.reference.basin ?? null,
    decision_step: summary?.basinDecision?.step ?? null,
    stopped_early_at: summary?.stoppedEarly?.step ?? null,
    ref_loss_basin: f?.reference.atBasinOptimum?.loss ?? null,
    loss_gap_basin: u?.modelMinusReference.atBasinOptimum?.loss.mean ?? null,
    loss_gap_basin_se: u?.modelMinusReference.atBasinOptimum?.loss.se ?? null,
    model_cos_basin: f?.alignment.atBasinOptimum?.modelCos ?? null,
    preds_diff_extracted: f?.alignment.atExtracted.predsDiff ?? null,
    eta: f?.extracted.eta ?? null,
    c_sigma: f?.extracted.cSigma ?? null,
    c_eta: f?.extracted.cEta ?? null,
    b: f?.extracted.diagnostics.b ?? null,
    solution: f?.extracted.solution ?? null,
    gd_linear_star: refs?.["gd-linear"].evaluation.loss ?? null,
    gd_linear_star_se: refs?.["gd-linear"].evaluationSe?.loss ?? null,
    kgd_fixed_star: refs?.["kgd-fixed"].evaluation.loss ?? null,
    kgd_fixed_star_se: refs?.["kgd-fixed"].evaluationSe?.loss ?? null,
    ca_kgd_star: refs?.["ca-kgd"].evaluation.loss ?? null,
    ca_kgd_star_se: refs?.["ca-kgd"].evaluationSe?.loss ?? null,
    ca_gd_linear_star: refs?.["ca-gd-linear"]?.evaluation.loss ?? null,
    ca_gd_linear_star_se: refs?.["ca-gd-linear"]?.evaluationSe?.loss ?? null,
    wall_seconds: wallSeconds,
    error
  }
}

/**
 * aggregate.csv rows (mean, 95% interval clipped to each metric's range, and SE over seeds per metric; seeds, loss and
 * the kernel parameters per learned solution kind) and aggregate.md.
 */
export const classificationAggregate = (sweepName: string, rows: ReadonlyArray<ResultRow>, keyColumns: ReadonlyArray<string>) => {
  const bounds = metricBounds(rows)
  const groups = aggregate(rows, keyColumns, [...AGGREGATED_METRICS, ...BASIN_PARAMETERS], bounds)
  const kinds = [...new Set(groups.flatMap((g) => Object.keys(g.solutions)))].sort()
  const basins = basinCounts(rows, keyColumns)
  const aggregateRows: Array<ResultRow> = groups.map((g, i) => ({
    ...aggregateRow(g, AGGREGATED_METRICS),
    ...basinColumns(basins[i]!),
    ...Object.fromEntries(
      kinds.flatMap((k) => {
        const of = g.solutions[k]
        // A kind this configuration never learned: empty cells, not numbers.
        const columns = (name: string, m: MeanInterval | undefined) =>
          m === undefined ? intervalColumns(name, NO_VALUES).map(([c]): [string, Cell] => [c, null]) : intervalColumns(name, m)
        return [[`${k}_seeds`, of?.count ?? 0], ...columns(`${k}_loss`, of?.loss), ...BASIN_PARAMETERS.flatMap((p) => columns(`${p}_${k}`, of?.metrics[p]))]
      })
    )
  }))
  const markdownColumns = [
    ...keyColumns,
    "runs",
    "final loss",
    "accuracy",
    "model − GD* loss",
    "model cos (extracted)",
    "model cos (grid)",
    "model cos (basin optimum)",
    "η",
    ...kinds.map((k) => `${k}: seeds, loss, c_σ`),
    ...(basins.some((b) => b.selection.trials > 0) ? ["fraction selection [95% CI]"] : []),
    ...(basins.some((b) => b.stoppedEarly > 0) ? ["stopped early"] : [])
  ]
  const markdownRows = groups.map((g, i) => ({
    ...Object.fromEntries(keyColumns.map((c) => [c, String(g.key[c] ?? "")])),
    runs: runsCell(g),
    "final loss": formatInterval(g.metrics["final_loss"]!),
    accuracy: formatInterval(g.metrics["accuracy"]!, 3),
    "model − GD* loss": formatInterval(g.metrics["loss_gap_grid"]!),
    "model cos (extracted)": formatInterval(g.metrics["model_cos_extracted"]!),
    "model cos (grid)": formatInterval(g.metrics["model_cos_grid"]!),
    "model cos (basin optimum)": formatInterval(g.metrics["model_cos_basin"]!),
    η: Number.isFinite(g.metrics["eta"]!.mean) ? formatInterval(g.metrics["eta"]!, 2) : "—",
    ...Object.fromEntries(
      kinds.map((k) => {
        const of = g.solutions[k]
        const cSigma = of?.metrics["c_sigma"]
        const parameter = cSigma !== undefined && Number.isFinite(cSigma.mean) ? `, c_σ ${formatInterval(cSigma, 2)}` : ""
        return [`${k}: seeds, loss, c_σ`, of ? `${of.count}, ${formatInterval(of.loss)}${parameter}` : "0"]
      })
    ),
    "fraction selection [95% CI]": basins[i]!.selection.trials > 0 ? formatProportion(basins[i]!.selection) : "—",
    "stopped early": `${basins[i]!.stoppedEarly} of ${g.runs - g.failed}`
  }))
  const stopped = basins.reduce((sum, b) => sum + b.stoppedEarly, 0)
  const notes = [
    `Mean ± 95% CI over seeds (Student's t; an interval clipped to its metric's range is written [lo, hi]). Learned c_σ within each solution kind only. ${rows.length} runs.`,
    ...(basins.some((b) => b.selection.trials > 0)
      ? ["Fraction selection: the seeds whose final c_σ is positive, with its Wilson 95% interval."]
      : []),
    ...(stopped > 0
      ? [`**${stopped} runs stopped early** once their basin was decided (earlyStop): their losses and metrics are those at the stop step, not after the full training.`]
      : [])
  ]
  const markdown = `# Sweep ${sweepName}\n\n${notes.join(" ")}\n\n${toMarkdown(markdownColumns, markdownRows)}`
  return { rows: aggregateRows, markdown }
}

const NO_VALUES = { mean: Number.NaN, halfWidth: Number.NaN, se: Number.NaN, lo: Number.NaN, hi: Number.NaN, count: 0 }
