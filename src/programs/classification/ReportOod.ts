/**
 * The report's out-of-distribution part (spec §6 E9): each representative configuration's trained models and their
 * references evaluated on shifted tasks, as the `ood` figure and a table.
 */
import { Effect } from "effect"
import { referenceName, shiftFigure, type ShiftPoint } from "../../domain/classification/Figures.js"
import { formatEstimate, formatInterval, meanInterval, NON_NEGATIVE, PROBABILITY, type Bounds } from "../../domain/Results.js"
import type { ReportSection } from "../ReportDocuments.js"
import { evaluateShifts, type ShiftResult } from "./OutOfDistribution.js"
import type { Group } from "./Report.js"

/**
 * A quantity over the seeds of a configuration: mean and 95% interval over seeds; or, for a single seed or a quantity
 * every seed shares (a reference at its grid optimum: one learner on one evaluation set), its value ± 1.96 standard
 * errors over the evaluation contexts (the text: value ± SE), not a zero-width interval over seeds.
 */
export const overSeeds = (values: ReadonlyArray<number>, ses: ReadonlyArray<number>, bounds: Bounds) => {
  if (values.length >= 2 && values.some((v) => v !== values[0])) {
    const m = meanInterval(values, bounds)
    return { mean: m.mean, lo: m.lo, hi: m.hi, text: formatInterval(m) }
  }
  const [mean, se] = [values[0] ?? Number.NaN, ses[0] ?? Number.NaN]
  const half = Number.isFinite(se) ? 1.96 * se : 0
  return { mean, lo: Math.max(bounds[0], mean - half), hi: Math.min(bounds[1], mean + half), text: formatEstimate({ mean, se }) }
}

/**
 * How far a configuration's task is from the paper's main setting (n = 100, d = 5, C = 5, ε = 0.5), compared in that
 * order: n first (the paper's figures sweep it), then d, C and the noise, each on a log scale (the noise linearly).
 */
const distanceFromMainSetting = (group: Group): ReadonlyArray<number> => {
  const { n, d, C, noise } = group.runs[0]!.config.task
  return [Math.abs(n - 100), Math.abs(Math.log(d / 5)), Math.abs(Math.log(C / 5)), Math.abs(noise - 0.5)]
}

/**
 * The configurations a per-configuration figure shows: per attention kind, the one nearest the paper's main setting
 * (n = 100 first; in a sweep over d, C or the noise at n = 100, the one at d = 5, C = 5, ε = 0.5).
 */
export const representativeGroups = (groups: ReadonlyArray<Group>, perAttention = 1): Array<Group> =>
  (["linear", "exp", "softmax"] as const).flatMap((attention) =>
    groups
      .filter((g) => g.runs[0]!.config.model.attention === attention)
      .map((group) => ({ group, distance: distanceFromMainSetting(group) }))
      .sort((a, b) => a.distance.map((x, i) => x - b.distance[i]!).find((x) => x !== 0) ?? 0)
      .slice(0, perAttention)
      .map(({ group }) => group)
  )

/**
 * The representative configurations with their seeds split by the solution each learned (kernel models): a
 * selection and an elimination solution are different algorithms, and averaging the two describes neither.
 */
export const basinSubgroups = (groups: ReadonlyArray<Group>): Array<Group & { readonly solution: string | null }> =>
  representativeGroups(groups).flatMap((group): Array<Group & { readonly solution: string | null }> => {
    const kinds = [...new Set(group.runs.map((r) => r.summary.final.extracted.solution))]
    if (kinds.every((k) => k === null)) return [{ ...group, solution: null }]
    return kinds.map((kind) => {
      const runs = group.runs.filter((r) => r.summary.final.extracted.solution === kind)
      return { ...group, label: `${group.label} (${kind ?? "no kind"}, ${runs.length} seed${runs.length === 1 ? "" : "s"})`, runs, solution: kind }
    })
  })

export const oodPart = <E, R>(
  groups: ReadonlyArray<Group>,
  emit: (name: string, caption: string, spec: ReturnType<typeof shiftFigure>) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const chosen = basinSubgroups(groups)
    const points: Array<ShiftPoint> = []
    const rows: Array<ReadonlyArray<string>> = []
    let contexts = 0
    for (const group of chosen) {
      const results = yield* Effect.forEach(group.runs, (run) => evaluateShifts(run.dir))
      const reference = referenceName(group.runs[0]!.summary.final.reference.kind)
      const panel = `${group.label} vs ${reference}`
      results[0]!.forEach((first, i) => {
        const at = (pick: (r: ShiftResult) => number, pickSe: (r: ShiftResult) => number, bounds: Bounds) =>
          overSeeds(results.map((r) => pick(r[i]!)), results.map((r) => pickSe(r[i]!)), bounds)
        contexts = first.contexts
        const model = at((r) => r.model.loss, (r) => r.modelSe.loss, NON_NEGATIVE)
        const extracted = at((r) => r.atExtracted.loss, (r) => r.atExtractedSe.loss, NON_NEGATIVE)
        const grid = at((r) => r.atGridOptimum.loss, (r) => r.atGridOptimumSe.loss, NON_NEGATIVE)
        const gap = at((r) => r.modelMinusExtracted.loss.mean, (r) => r.modelMinusExtracted.loss.se, [-Infinity, Infinity])
        const accuracy = at((r) => r.model.accuracy, (r) => r.modelSe.accuracy, PROBABILITY)
        const cos = at((r) => r.modelCos, () => Number.NaN, [-1, 1])
        for (const [series, value] of [
          ["trained model", model],
          ["reference at extracted parameters", extracted],
          ["reference at grid optimum", grid]
        ] as const) {
          points.push({ panel, shift: first.name, order: i, series, mean: value.mean, lo: value.lo, hi: value.hi })
        }
        rows.push([group.label, first.name, model.text, extracted.text, gap.text, grid.text, accuracy.text, cos.text])
      })
    }
    if (chosen.length === 0) return { skipped: ["ood: no finished run"], sections: [] as Array<ReportSection> }
    const seeds = chosen.map((g) => g.runs.length)
    const interval = Math.min(...seeds) >= 2 ? "mean and 95% interval over seeds" : "value ± 1.96 SE over contexts (one seed)"
    yield* emit(
      "ood",
      `Loss of each trained model (seeds split by the solution they learned) and of its GD reference (at the parameters read off its weights, and at its grid optimum found on in-distribution tasks) on evaluation tasks moved away from training: inputs scaled x → αx, another class noise, imbalanced contexts (class probabilities ∝ 10^(−rank/(C−1))), the query's class absent from the context, fewer classes present. ${contexts} contexts per set; ${interval}.`,
      shiftFigure(points, "Out-of-distribution evaluation", "mean cross-entropy (nats)")
    )
    const header = ["configuration", "evaluation tasks", "model loss", "reference loss (extracted)", "model − reference (paired)", "reference loss (grid optimum)", "model accuracy", "model cos (extracted)"]
    const markdown = [
      `Each cell: ${interval === "mean and 95% interval over seeds" ? "mean ± 95% CI over seeds, except the reference at its grid optimum, which every seed shares: its value ± SE over contexts" : "value ± SE over contexts"}; ${contexts} contexts per shifted set, the same tasks for every seed.`,
      "",
      [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")
    ].join("\n")
    return { skipped: [] as Array<string>, sections: [{ heading: "Out-of-distribution evaluation", markdown }] satisfies Array<ReportSection> }
  })
