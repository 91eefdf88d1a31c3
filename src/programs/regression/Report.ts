/**
 * The report of regression runs: alignment with the GD reference through training, the interpolation between trained
 * and constructed weights, and the headline tables of the two papers where the sweep has their axes —
 *   function kernel × attention activation (Cheng et al.): final loss of the trained models and of grid-optimal
 *   functional GD with each kernel, the best activation per function class marked;
 *   layers (von Oswald et al.): trained K-layer models against K steps of GD and GD++;
 *   deep representations (von Oswald et al.'s non-linear regression): models with and without a learned MLP embedding
 *   against GD on the inputs, on the task's true features and on the model's learned features.
 */
import { Effect, Option } from "effect"
import type { RegressionConfig } from "../../domain/regression/Config.js"
import { band, type BandPoint, seriesFigure } from "../../domain/Figures.js"
import { type Bounds, COSINE, formatInterval, meanInterval, NON_NEGATIVE } from "../../domain/Results.js"
import { RunStore } from "../../services/RunStore.js"
import type { RegressionPoint, RegressionSummary } from "./Run.js"
import { embeddingLabel } from "./Tables.js"
import { type FinishedRun, loadStoredRun, makeFigureSink, markdownTable, type Report, sweepSummary, writeReportDocuments } from "../ReportDocuments.js"

interface StoredRegressionRun extends FinishedRun {
  readonly config: RegressionConfig
  readonly summary: RegressionSummary
  readonly rows: ReadonlyArray<RegressionPoint>
}

const ACTIVATIONS = ["linear", "relu", "exp", "softmax"] as const
/** The attention activation whose kernel is the function class's own (softmax normalises exp). */
const MATCHING: Readonly<Record<string, string>> = { linear: "linear", relu: "relu", exp: "exp" }

/**
 * A configuration's label in legends and panel headers: the embedding by its shape ("tanh MLP 2→64→16", or "no
 * embedding"), every other axis as name=value.
 */
const label = (axes: Readonly<Record<string, unknown>>, config: RegressionConfig) =>
  Object.entries(axes)
    .map(([path, v]) =>
      path === "model.embedding"
        ? v === null ? "no embedding" : embeddingLabel(config)
        : `${path.split(".").pop()}=${typeof v === "string" ? v : JSON.stringify(v)}`
    )
    .join(", ") || "all runs"

const groupBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string) => {
  const groups = new Map<string, Array<A>>()
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item])
  return groups
}

const loadRuns = (entries: ReadonlyArray<FinishedRun>) =>
  Effect.forEach(entries, (entry) => loadStoredRun<RegressionConfig, RegressionSummary, RegressionPoint>(entry))

const matchVerdict = (
  matching: string | undefined,
  best: string,
  activations: ReadonlyArray<string>,
  means: ReadonlyArray<{ readonly mean: number }>
): string => {
  if (matching === undefined) return "— (no single kernel)"
  if (best === matching) return "yes"
  const index = activations.indexOf(matching)
  if (index < 0) return `no (${matching} not in the sweep)`
  const rank = 1 + [...means].sort((a, b) => a.mean - b.mean).indexOf(means[index]!)
  return `no (${matching} ranks ${rank} of ${activations.length})`
}

/** Kernel × attention: the trained models' final loss, and grid-optimal functional GD with each attention kernel. */
const kernelTable = (runs: ReadonlyArray<StoredRegressionRun>): string | undefined => {
  const kernels = [...new Set(runs.map((r) => r.config.task.kernel))]
  const activations = ACTIVATIONS.filter((a) => runs.some((r) => r.config.model.attention === a))
  if (kernels.length < 1 || activations.length < 2) return undefined
  const trainedRows = kernels.map((kernel) => {
    const means = activations.map((a) =>
      meanInterval(runs.filter((r) => r.config.task.kernel === kernel && r.config.model.attention === a).map((r) => r.summary.final.model.loss), NON_NEGATIVE)
    )
    const best = activations[means.reduce((b, m, i) => (m.mean < means[b]!.mean ? i : b), 0)]!
    // Among the unnormalised activations each has a kernel of its own; softmax normalises exp.
    const unnormalised = activations.filter((a) => a !== "softmax")
    const bestUnnormalised = unnormalised.reduce((b, a) => (means[activations.indexOf(a)]!.mean < means[activations.indexOf(b)]!.mean ? a : b), unnormalised[0]!)
    const matching = MATCHING[kernel]
    return [
      kernel,
      ...means.map((m, i) => (activations[i] === best ? `**${formatInterval(m)}**` : formatInterval(m))),
      best,
      matchVerdict(matching, best, activations, means),
      unnormalised.length > 1 ? `${bestUnnormalised}${matching === undefined ? "" : bestUnnormalised === matching ? " (matches)" : " (does not match)"}` : "—"
    ]
  })
  const referenceRows = kernels.map((kernel) => {
    const ofKernel = runs.filter((r) => r.config.task.kernel === kernel)
    const losses = activations.map((a) => meanInterval(ofKernel.map((r) => r.summary.references[`fgd-${a}`]?.loss ?? Number.NaN)).mean)
    const bestIndex = losses.reduce((b, v, i) => (v < losses[b]! ? i : b), 0)
    const bayes = meanInterval(ofKernel.map((r) => r.summary.references["bayes"]?.loss ?? Number.NaN)).mean
    return [kernel, ...losses.map((v, i) => (i === bestIndex ? `**${v.toFixed(4)}**` : v.toFixed(4))), activations[bestIndex]!, bayes.toFixed(4)]
  })
  const layers = [...new Set(runs.map((r) => r.config.model.layers))].join(", ")
  return [
    `Trained models (${layers} layer${layers === "1" ? "" : "s"}): final loss (½ MSE on the evaluation set), mean ± 95% CI over seeds; the best activation per function class in bold. "matches" says whether it is the activation whose kernel generated the functions (Cheng et al.'s claim); "best unnormalised" compares linear, ReLU and exp attention only, each of which computes functional GD in its own kernel's RKHS, while softmax normalises the exp kernel over the context.`,
    "",
    markdownTable(["function kernel", ...activations, "best", "matches", "best unnormalised"], trainedRows),
    "",
    `Grid-optimal functional GD with each attention kernel (as many steps as the models have layers), and the Bayes-optimal posterior mean:`,
    "",
    markdownTable(["function kernel", ...activations.map((a) => `FGD ${a}`), "best", "Bayes"], referenceRows)
  ].join("\n")
}

/** Layers: trained K-layer models against K steps of GD and GD++ (von Oswald et al.). */
const layersTable = (runs: ReadonlyArray<StoredRegressionRun>): string | undefined => {
  const depths = [...new Set(runs.map((r) => r.config.model.layers))].sort((a, b) => a - b)
  if (depths.length < 2) return undefined
  const groups = groupBy(runs, (r) => JSON.stringify([r.config.model.layers, r.config.model.recurrent, r.config.model.attention, r.config.task.kernel]))
  const rows = [...groups.values()]
    .sort((a, b) => a[0]!.config.model.layers - b[0]!.config.model.layers)
    .map((members) => {
      const first = members[0]!
      const of = (pick: (r: StoredRegressionRun) => number | undefined, bounds: Bounds = NON_NEGATIVE) =>
        formatInterval(meanInterval(members.map((r) => pick(r) ?? Number.NaN), bounds))
      return [
        String(first.config.model.layers),
        `${first.config.model.recurrent ? "recurrent " : ""}${first.config.model.attention}`,
        String(members.length),
        of((r) => r.summary.final.model.loss),
        of((r) => r.summary.references["gd"]?.loss),
        of((r) => r.summary.references["gd++"]?.loss),
        of((r) => r.summary.final.alignment.gridOptimum.modelCos, COSINE),
        of((r) => r.summary.final.alignment.gridOptimum.predsDiff)
      ]
    })
  return [
    "Final loss of trained K-layer models next to K steps of GD from 0 (grid-optimal step size) and K GD++ steps (fitted γ_k, η_k); alignment is with K-step GD.",
    "",
    markdownTable(["layers K", "attention", "runs", "trained loss", "K-step GD* loss", "GD++ loss", "model cos (GD*)", "preds diff (GD*)"], rows)
  ].join("\n")
}

/**
 * Deep representations: trained models with and without an MLP embedding on random-features tasks, next to K-step GD
 * on the inputs x, on the task's true features φ(x), and on each model's own learned features (with its alignment).
 */
const representationsTable = (runs: ReadonlyArray<StoredRegressionRun>): string | undefined => {
  const relevant = runs.filter((r) => r.config.task.family === "random-features" || r.config.model.embedding !== null)
  if (relevant.length === 0) return undefined
  const groups = groupBy(relevant, (r) => JSON.stringify([embeddingLabel(r.config), r.config.model.attention, r.config.model.layers, r.config.task]))
  const rows = [...groups.values()].map((members) => {
    const first = members[0]!
    const of = (pick: (r: StoredRegressionRun) => number | undefined, bounds: Bounds = NON_NEGATIVE) => {
      const values = members.map((r) => pick(r) ?? Number.NaN)
      return values.some(Number.isFinite) ? formatInterval(meanInterval(values, bounds)) : "—"
    }
    return [
      `${first.config.model.embedding === null ? "attention alone" : `${embeddingLabel(first.config)} + attention`} (${first.config.model.layers} ${first.config.model.attention} layer${first.config.model.layers === 1 ? "" : "s"})`,
      String(members.length),
      of((r) => r.summary.final.model.loss),
      of((r) => r.summary.references["gd"]?.loss),
      of((r) => r.summary.references["gd-features"]?.loss),
      of((r) => r.summary.final.learnedFeatures?.loss),
      of((r) => r.summary.final.learnedFeatures?.alignment.modelCos, COSINE),
      of((r) => r.summary.final.learnedFeatures?.alignment.predsDiff),
      of((r) => r.summary.references["bayes"]?.loss)
    ]
  })
  return [
    "Final loss (½ MSE on the evaluation set, mean ± 95% CI over seeds) of trained models with and without a learned MLP embedding, next to K-step GD (grid-optimal step size) on the inputs x, on the task's true features φ(x), and on each model's own learned features z = MLP(x) (the attention's GD construction on z, with the trained embedding); model cos and preds diff are the trained model's alignment with GD on its learned features.",
    "",
    markdownTable(
      ["model", "runs", "trained loss", "GD* on x", "GD* on φ(x)", "GD* on learned features", "model cos (learned)", "preds diff (learned)", "Bayes"],
      rows
    )
  ].join("\n")
}

export const makeRegressionReport = (folder: string, entries: ReadonlyArray<FinishedRun>) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const runs = yield* loadRuns(entries)
    const out = store.join(folder, "report")
    const { figures, emit } = yield* makeFigureSink(out)
    const groups = [...groupBy(runs, (r) => JSON.stringify(r.axes)).values()]

    const alignment: Array<BandPoint> = []
    const learnedAlignment: Array<BandPoint> = []
    const loss: Array<BandPoint> = []
    const interpolation: Array<BandPoint> = []
    // With an attention axis, one panel per value of the other axes and one line per activation; else one panel.
    const byAttention = runs.some((r) => "model.attention" in r.axes)
    const placement = (axes: Readonly<Record<string, unknown>>, config: RegressionConfig, single: string) => {
      if (!byAttention) return { panel: single, series: label(axes, config) }
      const { ["model.attention"]: attention, ...rest } = axes
      return { panel: Object.keys(rest).length > 0 ? label(rest, config) : single, series: `${String(attention)} SA` }
    }
    for (const members of groups) {
      const { axes, config } = members[0]!
      members[0]!.rows.forEach((row, i) => {
        const at = (pick: (p: RegressionPoint) => number, bounds: Bounds) => band(members.map((r) => (r.rows[i] ? pick(r.rows[i]!) : Number.NaN)), bounds)
        alignment.push({ ...placement(axes, config, "model cos with K-step GD*"), x: row.step, ...at((p) => p.alignment.gridOptimum.modelCos, COSINE) })
        if (row.learnedFeatures !== undefined) {
          learnedAlignment.push({
            ...placement(axes, config, "model cos with GD* on the learned features"),
            x: row.step,
            ...at((p) => p.learnedFeatures?.alignment.modelCos ?? Number.NaN, COSINE)
          })
        }
        loss.push({
          ...placement(axes, config, "loss relative to K-step GD*"),
          x: row.step,
          ...band(members.map((r) => (r.rows[i]?.model.loss ?? Number.NaN) / (r.summary.references["gd"]?.loss ?? Number.NaN)), NON_NEGATIVE)
        })
      })
      members[0]!.summary.interpolation.forEach((point, i) => {
        interpolation.push({
          ...placement(axes, config, "interpolation"),
          x: point.alpha,
          ...band(members.map((r) => r.summary.interpolation[i]?.loss ?? Number.NaN), NON_NEGATIVE)
        })
      })
    }
    yield* emit(
      "alignment",
      "Cosine between the trained model's sensitivity ∂ŷ/∂x_q and that of K-step (functional) GD with the model's kernel at its grid optimum, through training; mean and 95% band over seeds.",
      seriesFigure(alignment, "Alignment with K-step GD* through training", "training step", "model cos", false)
    )
    if (learnedAlignment.length > 0) {
      yield* emit(
        "learned-features",
        "Cosine between the sensitivity ∂ŷ/∂x_q of a model with an MLP embedding and that of K-step GD on its own learned features z = MLP(x) (grid-optimal step size, refitted at every evaluation point), through training; mean and 95% band over seeds.",
        seriesFigure(learnedAlignment, "Alignment with GD on the learned features", "training step", "model cos", false)
      )
    }
    yield* emit(
      "loss",
      "Evaluation loss of the trained model divided by the loss of its K-step GD* reference, through training (1 = as good as the best GD step size).",
      seriesFigure(loss, "Loss relative to K-step GD*", "training step", "model loss / GD* loss", false)
    )
    yield* emit(
      "interpolation",
      "Loss of the weights (1 − α)·trained + α·constructed, where the construction computes the grid-optimal GD reference exactly (von Oswald et al.'s interpolation).",
      seriesFigure(interpolation, "Interpolating trained and constructed weights", "α", "loss (½ MSE)", false)
    )

    const sections: Array<{ heading: string; markdown: string }> = []
    const kernels = kernelTable(runs)
    if (kernels !== undefined) sections.push({ heading: "Function kernel × attention activation", markdown: kernels })
    const layers = layersTable(runs)
    if (layers !== undefined) sections.push({ heading: "Layers against GD steps", markdown: layers })
    const representations = representationsTable(runs)
    if (representations !== undefined) sections.push({ heading: "Deep representations", markdown: representations })
    const aggregateMd = Option.getOrElse(yield* store.readText(store.join(folder, "aggregate.md")), () => "")
    sections.push({ heading: "Aggregate over seeds", markdown: aggregateMd.split("\n").filter((l) => l.startsWith("|")).join("\n") || "(a single run)" })
    sections.push({
      heading: "Runs",
      markdown: markdownTable(
        ["run", "seed", "axes", "loss", "GD* loss", "Bayes loss", "model cos (GD*)", "preds diff (GD*)", "s·η (layer 1)"],
        runs.map((r) => {
          const f = r.summary.final
          return [
            r.id,
            String(r.seed),
            label(r.axes, r.config),
            f.model.loss.toFixed(4),
            (r.summary.references["gd"]?.loss ?? Number.NaN).toFixed(4),
            (r.summary.references["bayes"]?.loss ?? Number.NaN).toFixed(4),
            f.alignment.gridOptimum.modelCos.toFixed(4),
            f.alignment.gridOptimum.predsDiff.toFixed(4),
            (f.extracted.layers[0]?.effectiveEta ?? Number.NaN).toFixed(3)
          ]
        })
      )
    })
    const sweepJson = yield* sweepSummary(folder, runs[0]!.config)
    yield* writeReportDocuments(out, {
      title: `icl-gd report: ${folder.split("/").pop()}`,
      intro: `${runs.length} finished regression run${runs.length === 1 ? "" : "s"} in ${groups.length} configuration${groups.length === 1 ? "" : "s"}. Losses are ½·mean squared error on the evaluation set. Made from stored results by pnpm start report.`,
      figures,
      skipped: [],
      sections,
      config: sweepJson
    })
    return { dir: out, figures, skipped: [] } satisfies Report
  })
