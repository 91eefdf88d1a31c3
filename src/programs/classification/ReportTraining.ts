/**
 * The report's E1 extras (spec §6 E1a, c, d): the final weights as heatmaps (`weights`), and the evaluation loss and
 * the learned GD parameters through training against their grid optima (`training`).
 */
import { Effect, Option } from "effect"
import {
  type TrainingPoint,
  trainingFigure,
  type WeightCell,
  weightsFigure
} from "../../domain/classification/Figures.js"
import type { GridPoint } from "../../domain/classification/GridSearch.js"
import { RunStore } from "../../services/RunStore.js"
import type { EvaluationPoint } from "../../services/classification/MetricsCollector.js"
import { representativeGroups } from "./ReportOod.js"
import type { Group } from "./Report.js"

const LOSS = "evaluation loss (nats)"
const ETA = "η = a·b (GD-lin step)"
const C_SIGMA = "c_σ (inverse kernel width)"
const B = "b = c_η/n (CA-KGD step)"
const KGD_ETA = "η (KGD-fixed step)"
const QUANTITIES = [LOSS, ETA, C_SIGMA, B, KGD_ETA]

interface StoredWeights {
  readonly final: { readonly W_KQ: ReadonlyArray<ReadonlyArray<number>>; readonly W_PV: ReadonlyArray<ReadonlyArray<number>> }
}

/** The trained model's lines and the grid optimum's levels through training, for one configuration. */
const trainingPoints = (group: Group): Array<TrainingPoint> => {
  const panel = group.label
  const attention = group.runs[0]!.config.model.attention
  const points: Array<TrainingPoint> = []
  const steps = group.runs[0]!.rows.map((p) => p.step)
  const level = (quantity: string, series: string, y: number | undefined) => {
    if (y === undefined || !Number.isFinite(y)) return
    for (const x of [steps[0]!, steps[steps.length - 1]!]) points.push({ panel, quantity, series, seed: "grid", x, y })
  }
  const trained = (quantity: string, pick: (p: EvaluationPoint) => number | null | undefined) => {
    for (const run of group.runs) {
      for (const p of run.rows) {
        const y = pick(p)
        if (y !== null && y !== undefined && Number.isFinite(y)) points.push({ panel, quantity, series: "trained model", seed: `seed ${run.seed}`, x: p.step, y })
      }
    }
  }
  const first = group.runs[0]!
  trained(LOSS, (p) => p.model.loss)
  level(LOSS, "grid optimum (GD*)", first.summary.final.reference.atGridOptimum.loss)
  const basins = (quantity: string, kind: "ca-kgd" | "kgd-fixed", pick: (g: GridPoint) => number) => {
    const reference = first.summary.references[kind]
    if (reference.selection) level(quantity, "grid optimum, selection basin", pick(reference.selection))
    if (reference.elimination) level(quantity, "grid optimum, elimination basin", pick(reference.elimination))
  }
  switch (attention) {
    case "linear":
      trained(ETA, (p) => p.extracted.eta)
      level(ETA, "grid optimum (GD*)", first.summary.references["gd-linear"].best.scale)
      break
    case "softmax":
      trained(C_SIGMA, (p) => p.extracted.cSigma)
      basins(C_SIGMA, "ca-kgd", (g) => g.cSigma)
      trained(B, (p) => p.extracted.diagnostics.b)
      basins(B, "ca-kgd", (g) => g.scale)
      break
    case "exp":
      trained(C_SIGMA, (p) => p.extracted.cSigma)
      basins(C_SIGMA, "kgd-fixed", (g) => g.cSigma)
      trained(KGD_ETA, (p) => p.extracted.eta)
      basins(KGD_ETA, "kgd-fixed", (g) => g.scale)
      break
  }
  return points
}

export const trainingPart = <E, R>(
  groups: ReadonlyArray<Group>,
  emit: (name: string, caption: string, spec: ReturnType<typeof weightsFigure>) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const chosen = representativeGroups(groups)
    const skipped: Array<string> = []
    const cells: Array<WeightCell> = []
    let labels: Array<string> = []
    for (const group of chosen) {
      const run = group.runs[0]!
      const stored = Option.getOrUndefined(yield* store.readJson(store.join(run.dir, "weights.json"))) as StoredWeights | undefined
      if (stored === undefined) {
        skipped.push(`weights of ${group.label}: no weights.json`)
        continue
      }
      const { d, C } = run.config.task
      labels = [...Array.from({ length: d }, (_, k) => `x${k + 1}`), ...Array.from({ length: C }, (_, c) => `y${c + 1}`)]
      for (const [matrix, rows] of [["W_KQ", stored.final.W_KQ], ["W_PV", stored.final.W_PV]] as const) {
        rows.forEach((row, r) => row.forEach((value, c) => cells.push({ panel: `${group.label}, seed ${run.seed}`, matrix, row: labels[r]!, column: labels[c]!, value })))
      }
    }
    const sameShape = new Set(chosen.map((g) => `${g.runs[0]!.config.task.d},${g.runs[0]!.config.task.C}`)).size === 1
    if (cells.length > 0 && sameShape) {
      yield* emit(
        "weights",
        "The final W_KQ and W_PV of one run per configuration (the first seed), rows and columns in token order: the d input entries x, then the C label entries y. The GD construction reads A, W_KQ's x-rows × x-columns (A ≈ a·I), and B_yy, W_PV's y-rows × y-columns (B_yy ≈ b·I + c·11ᵀ); the label rows of W_KQ and the x-rows of W_PV cannot change the prediction and keep their initial values. Each matrix has its own colour scale, centred at 0.",
        weightsFigure(cells, labels, "Final weights")
      )
    } else if (!sameShape) skipped.push("weights: the configurations differ in d or C")
    const points = chosen.flatMap(trainingPoints)
    if (points.length > 0) {
      yield* emit(
        "training",
        "Through training, for every seed of one configuration per attention kind: the evaluation loss with the grid-optimal matching reference's level (dashed), and the GD parameters read off the weights against their grid optima (dashed): η = a·b for linear attention, c_σ = a and b for softmax attention (CA-KGD), c_σ and η for exp attention (KGD-fixed), with the optimum of each sign basin of c_σ. Each seed is its own line: seeds that learned different basins are never averaged.",
        trainingFigure(points, QUANTITIES, "Loss and learned parameters through training", [KGD_ETA])
      )
    }
    return { skipped }
  })
