/**
 * The results tables of a classification sweep: one row per run (config, final metrics, learned parameters, solution
 * kind, the grid-optimal references), and the aggregate over seeds of each configuration with the split of learned
 * solutions (selection / elimination).
 */
import type { ExperimentConfig } from "../../domain/classification/Config.js"
import {
  aggregate,
  aggregateRow,
  formatInterval,
  type ResultRow,
  runColumns,
  runsCell,
  toMarkdown
} from "../../domain/Results.js"
import type { RunState, SweepRun } from "../../domain/Sweep.js"
import type { RunSummary } from "./Run.js"

/** Metrics aggregated over the seeds of each configuration. */
export const AGGREGATED_METRICS = [
  "final_loss",
  "accuracy",
  "p_correct",
  "entropy",
  "ref_loss_extracted",
  "ref_loss_grid",
  "model_cos_extracted",
  "model_cos_grid",
  "model_cos_basin",
  "eta",
  "c_sigma",
  "c_eta"
] as const

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
    accuracy: f?.model.accuracy ?? null,
    p_correct: f?.model.pCorrect ?? null,
    entropy: f?.model.entropy ?? null,
    reference: f?.reference.kind ?? null,
    ref_loss_extracted: f?.reference.atExtracted.loss ?? null,
    ref_loss_grid: f?.reference.atGridOptimum.loss ?? null,
    model_cos_extracted: f?.alignment.atExtracted.modelCos ?? null,
    model_cos_grid: f?.alignment.atGridOptimum.modelCos ?? null,
    basin: f?.reference.basin ?? null,
    ref_loss_basin: f?.reference.atBasinOptimum?.loss ?? null,
    model_cos_basin: f?.alignment.atBasinOptimum?.modelCos ?? null,
    preds_diff_extracted: f?.alignment.atExtracted.predsDiff ?? null,
    eta: f?.extracted.eta ?? null,
    c_sigma: f?.extracted.cSigma ?? null,
    c_eta: f?.extracted.cEta ?? null,
    b: f?.extracted.diagnostics.b ?? null,
    solution: f?.extracted.solution ?? null,
    gd_linear_star: refs?.["gd-linear"].evaluation.loss ?? null,
    kgd_fixed_star: refs?.["kgd-fixed"].evaluation.loss ?? null,
    ca_kgd_star: refs?.["ca-kgd"].evaluation.loss ?? null,
    wall_seconds: wallSeconds,
    error
  }
}

/** aggregate.csv rows (mean and 95% half-width per metric, seeds and mean loss per solution kind) and aggregate.md. */
export const classificationAggregate = (sweepName: string, rows: ReadonlyArray<ResultRow>, keyColumns: ReadonlyArray<string>) => {
  const groups = aggregate(rows, keyColumns, AGGREGATED_METRICS)
  const kinds = [...new Set(groups.flatMap((g) => Object.keys(g.solutions)))].sort()
  const aggregateRows: Array<ResultRow> = groups.map((g) => ({
    ...aggregateRow(g, AGGREGATED_METRICS),
    ...Object.fromEntries(
      kinds.flatMap((k) => [
        [`${k}_seeds`, g.solutions[k]?.count ?? 0],
        [`${k}_loss_mean`, g.solutions[k]?.loss.mean ?? null]
      ])
    )
  }))
  const markdownColumns = [
    ...keyColumns,
    "runs",
    "final loss",
    "accuracy",
    "model cos (extracted)",
    "model cos (grid)",
    "model cos (basin optimum)",
    "c_σ / η",
    ...kinds.map((k) => `${k}: seeds, loss`)
  ]
  const markdownRows = groups.map((g) => ({
    ...Object.fromEntries(keyColumns.map((c) => [c, String(g.key[c] ?? "")])),
    runs: runsCell(g),
    "final loss": formatInterval(g.metrics["final_loss"]!),
    accuracy: formatInterval(g.metrics["accuracy"]!, 3),
    "model cos (extracted)": formatInterval(g.metrics["model_cos_extracted"]!),
    "model cos (grid)": formatInterval(g.metrics["model_cos_grid"]!),
    "model cos (basin optimum)": formatInterval(g.metrics["model_cos_basin"]!),
    "c_σ / η": Number.isFinite(g.metrics["c_sigma"]!.mean) ? formatInterval(g.metrics["c_sigma"]!, 2) : formatInterval(g.metrics["eta"]!, 2),
    ...Object.fromEntries(
      kinds.map((k) => [`${k}: seeds, loss`, g.solutions[k] ? `${g.solutions[k]!.count}, ${formatInterval(g.solutions[k]!.loss)}` : "0"])
    )
  }))
  const markdown = `# Sweep ${sweepName}\n\nMean ± 95% CI over seeds (Student's t). ${rows.length} runs.\n\n${toMarkdown(markdownColumns, markdownRows)}`
  return { rows: aggregateRows, markdown }
}
