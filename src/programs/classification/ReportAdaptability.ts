/**
 * The report's adaptability part (spec §6 E10): the confidence of linear and softmax attention and of their GD
 * references, binned against what each evaluation context offers its query, from the per-context values stored at
 * the end of every run. Drawn as the `adaptability` figure, summarised in a table.
 */
import { Effect, Option } from "effect"
import { binnedMeans, type Bins, following, quantileBins } from "../../domain/classification/Adaptability.js"
import { contextFeatures, effectiveSteps } from "../../domain/classification/ContextFeatures.js"
import { adaptabilityFigure, type AdaptabilityPoint, referenceName, type SeriesLook } from "../../domain/classification/Figures.js"
import { referenceShapeOf } from "../../domain/classification/Extraction.js"
import { modelSpecOf } from "../../domain/classification/Model.js"
import { type Bounds, PROBABILITY } from "../../domain/Results.js"
import type { StoreError } from "../../domain/Errors.js"
import { RunStore } from "../../services/RunStore.js"
import { TaskSampler } from "../../services/classification/TaskSampler.js"
import type { ReportSection } from "../ReportDocuments.js"
import { basinSubgroups, overSeeds } from "./ReportOod.js"
import { type Group, parseCsv, type StoredRun } from "./Report.js"

/** The colours of a configuration's model, its reference at the extracted parameters, its grid optimum. */
const HUES: Readonly<Record<string, readonly [string, string, string]>> = {
  linear: ["#08519c", "#4292c6", "#9ecae1"],
  selection: ["#006d2c", "#41ab5d", "#a1d99b"],
  elimination: ["#a50f15", "#ef3b2c", "#fc9272"],
  mixed: ["#54278f", "#807dba", "#bcbddc"]
}
const DASHES: ReadonlyArray<ReadonlyArray<number>> = [[1, 0], [6, 3], [2, 2]]

/** Bins per feature: 10 of about N/10 contexts each (1,000 at the default evaluation size). */
const BINS = 10

const FEATURES = [
  { key: "sameClass", name: "context points of the query's class" },
  { key: "similarity", name: "mean similarity x_iᵀx_q of context and query" },
  { key: "step", name: "log10 effective step c_η/Σ_j k_j ÷ its median (softmax)" }
] as const
type FeatureKey = (typeof FEATURES)[number]["key"]

/** One run's per-context values: the context features and each learner's p(correct) and entropy. */
interface RunContexts {
  readonly features: Partial<Record<FeatureKey, ArrayLike<number>>>
  readonly values: Readonly<Record<"model" | "extracted" | "grid", { readonly pCorrect: ArrayLike<number>; readonly entropy: ArrayLike<number> }>>
}

const column = (rows: ReadonlyArray<Record<string, number>>, name: string) => Float64Array.from(rows, (r) => r[name]!)

/** A run's per-context.csv, with the context features recomputed from its evaluation set when the file predates them. */
const runContexts = (run: StoredRun): Effect.Effect<RunContexts | undefined, StoreError, RunStore | TaskSampler> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const sampler = yield* TaskSampler
    const text = yield* store.readText(store.join(run.dir, "per-context.csv"))
    if (Option.isNone(text)) return undefined
    const rows = parseCsv(text.value)
    const has = (name: string) => rows.length > 0 && name in rows[0]! && Number.isFinite(rows[0]![name]!)
    const features: Partial<Record<FeatureKey, ArrayLike<number>>> = {}
    let steps: ArrayLike<number> | undefined
    if (has("same_class") && has("similarity")) {
      features.sameClass = column(rows, "same_class")
      features.similarity = column(rows, "similarity")
      if (has("effective_step")) steps = column(rows, "effective_step")
    } else {
      const { config } = run
      const set = yield* sampler.evaluationSet(config.task, config.evaluation.seed, config.evaluation.size, config.evaluation.shift)
      const computed = contextFeatures(set)
      features.sameClass = Float64Array.from(computed.sameClass)
      features.similarity = computed.similarity
      const shape = referenceShapeOf(modelSpecOf(config))
      if (shape.kind === "ca-kgd") steps = effectiveSteps(shape, run.summary.final.extracted.params, set)
    }
    if (steps !== undefined) {
      const magnitudes = Array.from(steps, Math.abs).sort((a, b) => a - b)
      const median = magnitudes[Math.floor(magnitudes.length / 2)]!
      features.step = Float64Array.from(steps, (s) => Math.log10(Math.abs(s) / median))
    }
    const learner = (prefix: string) => ({ pCorrect: column(rows, `${prefix}_p_correct`), entropy: column(rows, `${prefix}_entropy`) })
    return { features, values: { model: learner("model"), extracted: learner("extracted"), grid: learner("grid") } }
  })

export const adaptabilityPart = <E, R>(
  groups: ReadonlyArray<Group>,
  emit: (name: string, caption: string, spec: ReturnType<typeof adaptabilityFigure>) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const chosen = basinSubgroups(groups).filter((g) => g.runs[0]!.config.model.attention !== "exp")
    const styles: Array<SeriesLook> = []
    const points: Array<AdaptabilityPoint> = []
    const rows: Array<ReadonlyArray<string>> = []
    const skipped: Array<string> = []
    let contexts = 0
    for (const group of chosen) {
      const loaded = yield* Effect.forEach(group.runs, runContexts)
      const runs: ReadonlyArray<RunContexts> = loaded.filter((r): r is RunContexts => r !== undefined)
      if (runs.length === 0) {
        skipped.push(`adaptability of ${group.label}: no per-context.csv (output.perContext was false)`)
        continue
      }
      const first = group.runs[0]!
      const C = first.config.task.C
      const reference = referenceName(first.summary.final.reference.kind)
      const basin = group.solution === null ? "" : ` (${group.solution})`
      const learners = [
        ["model", `${first.config.model.attention} SA${basin}`],
        ["extracted", `${reference} (extracted)${basin}`],
        ["grid", `${reference}*${basin === "" ? "" : " (global optimum)"}`]
      ] as const
      // One hue per configuration and basin; the model dark and solid, the reference at its parameters dashed, the
      // grid optimum light and dotted.
      const hue = HUES[first.config.model.attention === "linear" ? "linear" : (group.solution ?? "selection")]!
      learners.forEach(([, series], i) => {
        if (!styles.some((s) => s.series === series)) styles.push({ series, color: hue[i]!, dash: DASHES[i]! })
      })
      const metrics = [
        ["pCorrect", "p(correct class)", PROBABILITY],
        ["entropy", "entropy (nats)", [0, Math.log(C)]]
      ] as const satisfies ReadonlyArray<readonly [string, string, Bounds]>
      contexts = runs[0]!.values.model.pCorrect.length
      for (const feature of FEATURES) {
        if (runs.some((r) => r.features[feature.key] === undefined)) continue
        // Each run bins its own contexts (the same contexts for every seed; the effective step is the run's own).
        const bins: Array<Bins> = runs.map((r) => quantileBins(r.features[feature.key]!, BINS))
        const binCount = Math.min(...bins.map((b) => b.count))
        for (const [learner, series] of learners) {
          // The grid optimum is one learner for every seed, so every basin's subgroup has the same curve: drawn once.
          if (learner === "grid" && points.some((p) => p.series === series && p.feature === feature.name)) continue
          for (const [metric, metricName, bounds] of metrics) {
            const binned = runs.map((r, i) => binnedMeans(r.features[feature.key]!, r.values[learner][metric], bins[i]!))
            for (let bin = 0; bin < binCount; bin++) {
              const at = overSeeds(
                binned.map((b) => b[bin]!.value.mean),
                binned.map((b) => b[bin]!.value.se),
                bounds
              )
              const x = binned.reduce((s, b) => s + b[bin]!.x, 0) / binned.length
              const size = binned[0]![bin]!.contexts
              points.push({ feature: feature.name, metric: metricName, series, x, mean: at.mean, lo: at.lo, hi: at.hi, contexts: size })
            }
          }
        }
      }
      // The table: how strongly each learner's entropy and p(correct) follow the context, over the seeds.
      for (const [learner, series] of learners) {
        const cells = (["sameClass", "similarity"] as const).flatMap((key) => {
          const follow = runs.map((r) => following(r.features[key]!, r.values[learner].entropy, quantileBins(r.features[key]!, BINS)))
          const followP = runs.map((r) => following(r.features[key]!, r.values[learner].pCorrect, quantileBins(r.features[key]!, BINS)))
          const over = (values: ReadonlyArray<number>, bounds: Bounds) => overSeeds(values, values.map(() => Number.NaN), bounds).text
          return [
            over(follow.map((f) => f.correlation), [-1, 1]),
            `${over(follow.map((f) => f.lowest), [0, Math.log(C)])} → ${over(follow.map((f) => f.highest), [0, Math.log(C)])}`,
            `${over(followP.map((f) => f.lowest), PROBABILITY)} → ${over(followP.map((f) => f.highest), PROBABILITY)}`
          ]
        })
        rows.push([group.label, series, ...cells])
      }
    }
    if (points.length === 0) return { skipped: [...skipped, "adaptability: no linear or softmax run with per-context values"], sections: [] as Array<ReportSection> }
    const seeds = Math.min(...chosen.map((g) => g.runs.length))
    const interval = seeds >= 2 ? "mean and 95% interval over seeds" : "± 1.96 SE over the bin's contexts (one seed)"
    yield* emit(
      "adaptability",
      `Confidence against what the context offers the query (spec E10), for trained linear and softmax attention (solid; softmax seeds split by the solution they learned, selection green, elimination red), their GD reference at the parameters read off the weights (dashed) and at the grid optimum (dotted): p(correct class) and entropy, in ${BINS} bins of about ${Math.round(contexts / BINS)} of the ${contexts} evaluation contexts each, against the number of context points of the query's class, the query's mean similarity to the context, and (softmax) CA-KGD's context-adaptive step c_η/Σ_j k_j at the model's parameters. Bin means; ${interval}.`,
      adaptabilityFigure(points, "Adaptability to context: confidence against what the context offers", styles)
    )
    const header = [
      "configuration",
      "learner",
      "r(entropy, same-class count)",
      "entropy: fewest → most same-class points",
      "p(correct): fewest → most same-class points",
      "r(entropy, similarity)",
      "entropy: least → most similar context",
      "p(correct): least → most similar context"
    ]
    const markdown = [
      `Per-context Pearson correlation r and the bin means of the lowest and highest of ${BINS} bins (about ${Math.round(contexts / BINS)} contexts each); ${seeds >= 2 ? "mean ± 95% CI over seeds" : "one seed"}.`,
      "",
      [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")
    ].join("\n")
    return { skipped, sections: [{ heading: "Adaptability to context", markdown }] satisfies Array<ReportSection> }
  })
