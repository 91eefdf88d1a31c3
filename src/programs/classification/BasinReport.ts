/**
 * The basin study's part of a classification report (softmax and exp runs): which basin each seed reached (the sign of
 * its final c_σ), per training setting, with Wilson intervals (figure `basins`); when the basin was decided along the
 * evaluation points (decision-step statistics, figure `basin-decision`); and what in the initial weights predicts it
 * (predictors table, figure `basin-predictors`). Every number comes from the stored runs.
 */
import { Effect, Option } from "effect"
import { wilsonInterval, formatProportion } from "../../domain/Binomial.js"
import { basinsFigure, decisionFigure, initialWeightsFigure } from "../../domain/classification/BasinFigures.js"
import { type Basin, basinOf, decisionOf, predictionBySteps, rocArea, type TrajectoryPoint } from "../../domain/classification/Basins.js"
import { formatInterval, meanInterval } from "../../domain/Results.js"
import { RunStore } from "../../services/RunStore.js"
import { markdownTable } from "../ReportDocuments.js"
import type { StoredRun } from "./Report.js"
import type { TopLevelSpec } from "vega-lite"

/** A stored run as the basins figure reads it (its id is not needed). */
export type BasinRun = Omit<StoredRun, "id">

/** Steps at which the sign of c_σ is compared with the final basin. */
const AGREEMENT_STEPS = [0, 1, 10, 50, 100, 200, 500, 1000, 2000, 5000, 10000]

const short = (path: string) => path.split(".").pop()!
const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v))

/**
 * Labels of settings: the axis values in which a setting differs from the most common value of that axis ("base" when
 * it differs in none), so that one-factor-at-a-time studies read as "learningRate=0.003". The attention kind is not an
 * axis of the label (the caller names it): a sweep over C × attention labels its settings "C=2", "C=3", … for every
 * attention kind, never "base" for one of its values.
 */
export const settingLabels = (settings: ReadonlyArray<Readonly<Record<string, unknown>>>): Array<string> => {
  const paths = [...new Set(settings.flatMap((s) => Object.keys(s)))].filter((p) => p !== "model.attention")
  const keyOf = (s: Readonly<Record<string, unknown>>) => JSON.stringify(paths.map((p) => s[p]))
  // The settings apart from their attention kind, each once.
  const distinct = [...new Map(settings.map((s) => [keyOf(s), s] as const)).values()]
  const modal = Object.fromEntries(
    paths.map((path) => {
      const counts = new Map<string, number>()
      for (const s of distinct) counts.set(JSON.stringify(s[path]), (counts.get(JSON.stringify(s[path])) ?? 0) + 1)
      return [path, [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0]]
    })
  )
  // An axis whose values are all different (e.g. a task sweep) labels every setting.
  const varied = (path: string) => new Set(distinct.map((s) => JSON.stringify(s[path]))).size === distinct.length && distinct.length > 1
  return settings.map((s) => {
    const parts = paths.filter((p) => varied(p) || JSON.stringify(s[p]) !== modal[p]).map((p) => `${short(p)}=${show(s[p])}`)
    return parts.length === 0 ? "base" : parts.join(", ")
  })
}

const trajectoryOf = (run: BasinRun): Array<TrajectoryPoint> =>
  run.rows.map((p) => ({ step: p.step, cSigma: p.extracted.cSigma ?? Number.NaN }))

const frobenius = (rows: ReadonlyArray<ReadonlyArray<number>>, r: [number, number], c: [number, number]) => {
  let sum = 0
  for (let i = r[0]; i < r[1]; i++) for (let j = c[0]; j < c[1]; j++) sum += rows[i]![j]! ** 2
  return Math.sqrt(sum)
}

/** Statistics of a run's initial weights (weights.json), in units of its initScale. */
const initialStatistics = (run: BasinRun, weights: { initial: { W_KQ: Array<Array<number>>; W_PV: Array<Array<number>> } }) => {
  const { d, C } = run.config.task
  const D = d + C
  const s = run.config.model.initScale
  const first = run.rows[0]!.extracted.diagnostics
  const a = first.a / s
  const b = first.b / s
  return {
    a,
    b,
    "a + b": a + b,
    "a · b": a * b,
    "‖A‖_F": frobenius(weights.initial.W_KQ, [0, d], [0, d]) / s,
    "‖B_yy‖_F": frobenius(weights.initial.W_PV, [d, D], [d, D]) / s,
    "‖W_KQ‖_F": frobenius(weights.initial.W_KQ, [0, D], [0, D]) / s,
    "‖W_PV‖_F": frobenius(weights.initial.W_PV, [0, D], [0, D]) / s
  }
}

const lossCell = (values: ReadonlyArray<number>) => (values.length === 0 ? "—" : `${formatInterval(meanInterval(values))} (${values.length})`)

const quantile = (sorted: ReadonlyArray<number>, q: number) => {
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * q
  const low = Math.floor(position)
  const high = Math.ceil(position)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low)
}

/**
 * The basin figures and tables of a report, or nothing when no run has a c_σ (linear attention only). `emit` renders
 * a figure into the report.
 */
export const basinSections = <E>(
  runs: ReadonlyArray<BasinRun>,
  emit: (name: string, caption: string, spec: TopLevelSpec) => Effect.Effect<void, E>
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const kernel = runs.filter((r) => basinOf(r.summary.final.extracted.cSigma) !== null)
    if (kernel.length === 0) return []
    // Settings in the order they first appear (the sweep's order).
    const keys = [...new Set(kernel.map((r) => JSON.stringify(r.axes)))]
    const labels = settingLabels(keys.map((k) => JSON.parse(k) as Record<string, unknown>))
    // Softmax runs alone are labelled by their setting; with exp runs beside them, every label names its attention.
    const kinds = new Set(kernel.map((r) => r.config.model.attention))
    const settings = keys.map((key, i) => {
      const members = kernel.filter((r) => JSON.stringify(r.axes) === key).sort((a, b) => a.seed - b.seed)
      const attention = members[0]!.config.model.attention
      return { label: attention === "softmax" && kinds.size === 1 ? labels[i]! : `${attention} SA, ${labels[i]!}`, runs: members }
    })
    const finalBasin = (r: BasinRun) => basinOf(r.summary.final.extracted.cSigma)!
    const stoppedEarly = kernel.filter((r) => r.summary.stoppedEarly !== undefined).length

    // The study table and figure `basins`.
    const study = settings.map((s) => {
      const selection = s.runs.filter((r) => finalBasin(r) === "selection")
      const elimination = s.runs.filter((r) => finalBasin(r) === "elimination")
      return {
        setting: s.label,
        proportion: wilsonInterval(selection.length, s.runs.length),
        selectionLoss: selection.map((r) => r.summary.final.model.loss),
        eliminationLoss: elimination.map((r) => r.summary.final.model.loss),
        caKgd: meanInterval(s.runs.map((r) => r.summary.references["ca-kgd"].evaluation.loss)).mean,
        stopped: s.runs.filter((r) => r.summary.stoppedEarly !== undefined).length
      }
    })
    const earlyNote =
      stoppedEarly > 0
        ? ` ${stoppedEarly} of ${kernel.length} runs stopped early once their basin was decided (earlyStop); their losses are at the stop step, marked "stopped early".`
        : ""
    yield* emit(
      "basins",
      `Fraction of seeds whose final c_σ is positive (the selection basin) per setting, with 95% Wilson intervals; the label gives selection seeds / seeds.${earlyNote}`,
      basinsFigure(
        study.map((row) => ({
          setting: row.setting,
          fraction: row.proportion.estimate,
          lower: row.proportion.lower,
          upper: row.proportion.upper,
          seeds: row.proportion.trials
        })),
        kinds.size === 1 && kinds.has("softmax") ? "Which basin softmax attention learns" : `Which basin ${[...kinds].sort().reverse().join(" and ")} attention learn`
      )
    )
    const studyTable = markdownTable(
      ["setting", "seeds", "fraction selection [95% CI]", "loss selection", "loss elimination", "CA-KGD*", "stopped early"],
      study.map((row) => [
        row.setting,
        String(row.proportion.trials),
        formatProportion(row.proportion),
        lossCell(row.selectionLoss),
        lossCell(row.eliminationLoss),
        Number.isFinite(row.caKgd) ? row.caKgd.toFixed(4) : "—",
        row.stopped === 0 ? "no" : `${row.stopped} of ${row.proportion.trials}`
      ])
    )

    // When is the basin decided?
    const decisions = settings.map((s) => ({
      setting: s.label,
      decided: s.runs.map((r) => decisionOf(trajectoryOf(r))).filter((d) => d !== null)
    }))
    const decisionTable = markdownTable(
      ["setting", "runs", "decision step: median [quartiles]", "latest", "decided at step 0", "sign changes (mean)"],
      decisions.map(({ setting, decided }) => {
        const steps = decided.map((d) => d.step).sort((a, b) => a - b)
        return [
          setting,
          String(decided.length),
          `${quantile(steps, 0.5)} [${quantile(steps, 0.25)}, ${quantile(steps, 0.75)}]`,
          String(steps.at(-1) ?? "—"),
          formatProportion(wilsonInterval(decided.filter((d) => d.step === 0).length, decided.length)),
          (decided.reduce((sum, d) => sum + d.signChanges, 0) / Math.max(1, decided.length)).toFixed(2)
        ]
      })
    )
    const agreementSteps = AGREEMENT_STEPS.filter((k) => kernel.some((r) => r.summary.final.step >= k))
    const agreement = settings.map((s) => ({
      setting: s.label,
      points: predictionBySteps(
        s.runs.map((r) => ({ trajectory: trajectoryOf(r), final: finalBasin(r) })),
        agreementSteps
      )
    }))
    const agreementTable = markdownTable(
      ["setting", ...agreementSteps.map((k) => `k = ${k}`)],
      agreement.map((a) => [a.setting, ...a.points.map((p) => `${p.agreement.estimate.toFixed(2)} [${p.agreement.lower.toFixed(2)}, ${p.agreement.upper.toFixed(2)}]`)])
    )
    yield* emit(
      "basin-decision",
      `How well the sign of c_σ at step k (the last evaluation point at or before k) predicts the final basin: fraction of runs, 95% Wilson band.${earlyNote}`,
      decisionFigure(
        agreement.flatMap((a) =>
          a.points.map((p) => ({ setting: a.setting, step: p.step, agreement: p.agreement.estimate, lower: p.agreement.lower, upper: p.agreement.upper }))
        ),
        "When the basin is decided"
      )
    )

    // What predicts the basin from the initial weights? The statistics of every run, in units of its initScale.
    const withStats = yield* Effect.forEach(kernel, (run) =>
      store.readJson(store.join(run.dir, "weights.json")).pipe(
        Effect.map((w) =>
          Option.isSome(w) ? { run, stats: initialStatistics(run, w.value as Parameters<typeof initialStatistics>[1]) } : undefined
        )
      )
    ).pipe(Effect.map((all) => all.filter((x) => x !== undefined)))
    type WithStats = (typeof withStats)[number]
    const names = withStats.length > 0 ? (Object.keys(withStats[0]!.stats) as Array<keyof WithStats["stats"]>) : []
    const pSelection = (group: ReadonlyArray<WithStats>) =>
      wilsonInterval(group.filter((x) => finalBasin(x.run) === "selection").length, group.length)
    const ofBasin = (group: ReadonlyArray<WithStats>, basin: Basin) => group.filter((x) => finalBasin(x.run) === basin)
    const rocOf = (group: ReadonlyArray<WithStats>, name: keyof WithStats["stats"]) =>
      rocArea(ofBasin(group, "selection").map((x) => x.stats[name]), ofBasin(group, "elimination").map((x) => x.stats[name]))
    const rocCell = (roc: ReturnType<typeof rocArea>) => (Number.isFinite(roc.area) ? `${roc.area.toFixed(2)} ± ${(1.96 * roc.standardError).toFixed(2)}` : "—")
    // The full table for the first setting: in a study whose settings share their seeds, the others repeat its
    // initialisations (up to initScale), so pooling them would count one initialisation several times.
    const firstSetting = settings[0]!
    const first = withStats.filter((x) => firstSetting.runs.includes(x.run))
    const predictorRows = names.map((name) => {
      const positive = first.filter((x) => x.stats[name] > 0)
      const negative = first.filter((x) => x.stats[name] < 0)
      const both = positive.length > 0 && negative.length > 0
      return [
        name,
        formatInterval(meanInterval(ofBasin(first, "selection").map((x) => x.stats[name])), 3),
        formatInterval(meanInterval(ofBasin(first, "elimination").map((x) => x.stats[name])), 3),
        rocCell(rocOf(first, name)),
        both ? formatProportion(pSelection(positive)) : "—",
        both ? formatProportion(pSelection(negative)) : "—"
      ]
    })
    const predictorsTable = markdownTable(
      ["initial statistic (÷ initScale)", "mean, selection seeds", "mean, elimination seeds", "AUC for selection ± 95%", "P(selection | > 0)", "P(selection | < 0)"],
      predictorRows
    )
    // The sign of the initial b in every setting.
    const bTable = markdownTable(
      ["setting", "P(selection | initial b > 0)", "P(selection | initial b < 0)", "AUC of initial b"],
      settings.map((setting) => {
        const group = withStats.filter((x) => setting.runs.includes(x.run))
        return [
          setting.label,
          formatProportion(pSelection(group.filter((x) => x.stats.b > 0))),
          formatProportion(pSelection(group.filter((x) => x.stats.b < 0))),
          rocCell(rocOf(group, "b"))
        ]
      })
    )
    if (first.length > 0) {
      yield* emit(
        "basin-predictors",
        `The initial a = tr(A)/d and b (÷ initScale) of every seed of the setting "${firstSetting.label}", coloured by the basin it reached: ${ofBasin(first, "selection").length} selection and ${ofBasin(first, "elimination").length} elimination seeds.`,
        initialWeightsFigure(
          first.map((x) => ({ a: x.stats.a, b: x.stats.b, basin: finalBasin(x.run) })),
          "Initial weights and the basin reached",
          "(÷ initScale)"
        )
      )
    }
    const predictorsNote = `Setting "${firstSetting.label}", ${first.length} seeds. AUC: the probability that a selection seed's value exceeds an elimination seed's (0.5: no information), ± 1.96 × Hanley–McNeil SE.`
    return [
      { heading: "Basins: fraction selection per setting", markdown: studyTable },
      {
        heading: "Basins: when the basin is decided",
        markdown: `The decision step is the first evaluation step from which the sign of c_σ never changes again.${earlyNote}\n\n${decisionTable}\n\nSign of c_σ at step k = final basin (fraction [95% Wilson]):\n\n${agreementTable}`
      },
      { heading: "Basins: predictors in the initial weights", markdown: `${predictorsNote}\n\n${predictorsTable}\n\nThe sign of the initial b in every setting (fractions with 95% Wilson intervals):\n\n${bTable}` }
    ]
  })
