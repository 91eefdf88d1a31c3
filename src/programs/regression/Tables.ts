/**
 * The results tables of a regression sweep: one row per run, and the aggregate over seeds of each configuration.
 */
import type { RunState, SweepRun } from "../../domain/Sweep.js"
import {
  aggregate,
  type AggregateGroup,
  aggregateRow,
  type Bounds,
  COSINE,
  formatInterval,
  NON_NEGATIVE,
  type ResultRow,
  runColumns,
  runsCell,
  toMarkdown
} from "../../domain/Results.js"
import type { RegressionConfig } from "../../domain/regression/Config.js"
import type { RegressionSummary } from "./Run.js"

export const REGRESSION_METRICS = [
  "final_loss",
  "gd_loss",
  "gd_plus_plus_loss",
  "bayes_loss",
  "extracted_loss",
  "model_cos",
  "preds_diff",
  "model_diff",
  "model_cos_extracted",
  "model_cos_bayes",
  "eta",
  "gd_features_loss",
  "learned_gd_loss",
  "model_cos_learned",
  "preds_diff_learned"
] as const

/** The range of each bounded metric: losses and distances are non-negative, cosines lie in [−1, 1]; intervals over seeds are clipped to it. */
export const REGRESSION_BOUNDS: Readonly<Record<string, Bounds>> = {
  final_loss: NON_NEGATIVE,
  gd_loss: NON_NEGATIVE,
  gd_plus_plus_loss: NON_NEGATIVE,
  bayes_loss: NON_NEGATIVE,
  extracted_loss: NON_NEGATIVE,
  model_cos: COSINE,
  preds_diff: NON_NEGATIVE,
  model_diff: NON_NEGATIVE,
  model_cos_extracted: COSINE,
  model_cos_bayes: COSINE,
  gd_features_loss: NON_NEGATIVE,
  learned_gd_loss: NON_NEGATIVE,
  model_cos_learned: COSINE,
  preds_diff_learned: NON_NEGATIVE
}

/** "none", or the embedding's shape: "tanh MLP 2→64→16". */
export const embeddingLabel = (config: RegressionConfig): string => {
  const { embedding } = config.model
  return embedding === null ? "none" : `${embedding.activation} MLP ${[config.task.d, ...embedding.hidden, embedding.features].join("→")}`
}

export const regressionResultRow = (
  run: SweepRun,
  state: RunState,
  summary: RegressionSummary | undefined,
  wallSeconds: number | null,
  error: string | null
): ResultRow => {
  const config = run.config as RegressionConfig
  const f = summary?.final
  const refs = summary?.references
  return {
    ...runColumns(run),
    family: config.task.family,
    kernel: config.task.kernel,
    attention: config.model.attention,
    layers: config.model.layers,
    recurrent: config.model.recurrent,
    embedding: embeddingLabel(config),
    d: config.task.d,
    n: config.task.n,
    steps: config.training.steps,
    status: state,
    final_loss: f?.model.loss ?? null,
    gd_loss: refs?.["gd"]?.loss ?? null,
    gd_plus_plus_loss: refs?.["gd++"]?.loss ?? null,
    bayes_loss: refs?.["bayes"]?.loss ?? null,
    fgd_linear_loss: refs?.["fgd-linear"]?.loss ?? null,
    fgd_relu_loss: refs?.["fgd-relu"]?.loss ?? null,
    fgd_exp_loss: refs?.["fgd-exp"]?.loss ?? null,
    fgd_softmax_loss: refs?.["fgd-softmax"]?.loss ?? null,
    extracted_loss: f?.extracted.loss ?? null,
    model_cos: f?.alignment.gridOptimum.modelCos ?? null,
    preds_diff: f?.alignment.gridOptimum.predsDiff ?? null,
    model_diff: f?.alignment.gridOptimum.modelDiff ?? null,
    model_cos_extracted: f?.alignment.extracted.modelCos ?? null,
    model_cos_bayes: f?.alignment.bayes.modelCos ?? null,
    eta: f?.extracted.layers[0]?.effectiveEta ?? null,
    gd_features_loss: refs?.["gd-features"]?.loss ?? null,
    learned_gd_loss: f?.learnedFeatures?.loss ?? null,
    model_cos_learned: f?.learnedFeatures?.alignment.modelCos ?? null,
    preds_diff_learned: f?.learnedFeatures?.alignment.predsDiff ?? null,
    wall_seconds: wallSeconds,
    error
  }
}

/** With random features or an embedding, the columns of GD on the true and on the learned features come in. */
const FEATURE_COLUMNS = { "GD* on φ(x)": "gd_features_loss", "GD* on learned features": "learned_gd_loss", "model cos (learned)": "model_cos_learned" }

const regressionMarkdownColumns = (keyColumns: ReadonlyArray<string>, groups: ReadonlyArray<AggregateGroup>) => [
  ...keyColumns,
  "runs",
  "final loss",
  "GD* loss",
  "GD++ loss",
  "Bayes loss",
  "model cos (GD*)",
  "preds diff (GD*)",
  "model cos (extracted)",
  ...Object.entries(FEATURE_COLUMNS)
    .filter(([, metric]) => groups.some((g) => g.metrics[metric]!.count > 0))
    .map(([column]) => column)
]

const regressionMarkdownRow = (g: AggregateGroup, keyColumns: ReadonlyArray<string>): Record<string, string> => ({
  ...Object.fromEntries(Object.entries(FEATURE_COLUMNS).map(([column, metric]) => [column, formatInterval(g.metrics[metric]!)])),
  ...Object.fromEntries(keyColumns.map((c) => [c, String(g.key[c] ?? "")])),
  runs: runsCell(g),
  "final loss": formatInterval(g.metrics["final_loss"]!),
  "GD* loss": formatInterval(g.metrics["gd_loss"]!),
  "GD++ loss": formatInterval(g.metrics["gd_plus_plus_loss"]!),
  "Bayes loss": formatInterval(g.metrics["bayes_loss"]!),
  "model cos (GD*)": formatInterval(g.metrics["model_cos"]!),
  "preds diff (GD*)": formatInterval(g.metrics["preds_diff"]!),
  "model cos (extracted)": formatInterval(g.metrics["model_cos_extracted"]!)
})

/** aggregate.csv rows (mean and 95% half-width per metric) and aggregate.md. */
export const regressionAggregate = (sweepName: string, rows: ReadonlyArray<ResultRow>, keyColumns: ReadonlyArray<string>) => {
  const groups = aggregate(rows, keyColumns, REGRESSION_METRICS, REGRESSION_BOUNDS)
  const markdown = `# Sweep ${sweepName}\n\nMean ± 95% CI over seeds (Student's t). ${rows.length} runs. Losses are ½·mean squared error on the evaluation set; GD* is K-step (functional) GD with the model's kernel at its grid optimum.\n\n${toMarkdown(
    regressionMarkdownColumns(keyColumns, groups),
    groups.map((g) => regressionMarkdownRow(g, keyColumns))
  )}`
  return { rows: groups.map((g) => aggregateRow(g, REGRESSION_METRICS)), markdown }
}
