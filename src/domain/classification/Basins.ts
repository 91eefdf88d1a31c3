/**
 * Which basin a softmax (or exp) model learns, and when (issue: selection vs elimination). The basin is the sign of the
 * learned c_σ = a = tr(A)/d: selection (c_σ > 0: attend to context points like the query, add their labels) or
 * elimination (c_σ < 0: attend to unlike points, subtract their labels); both are context-adaptive kernel GD steps.
 *
 * Trajectories are the c_σ read off the weights at a run's evaluation points (metrics.jsonl), step 0 (the initial
 * weights) included.
 */
import { wilsonInterval, type Proportion } from "../Binomial.js"

export type Basin = "selection" | "elimination"

/** The basin of a c_σ: its sign; null when there is none (no c_σ, 0, or not finite). */
export const basinOf = (cSigma: number | null | undefined): Basin | null =>
  cSigma === null || cSigma === undefined || !Number.isFinite(cSigma) || cSigma === 0 ? null : cSigma > 0 ? "selection" : "elimination"

export interface TrajectoryPoint {
  readonly step: number
  readonly cSigma: number
}

export interface Decision {
  /** The first trajectory step from which the sign of c_σ never changes again (0: the initial sign already). */
  readonly step: number
  /** The basin of the last point. */
  readonly basin: Basin
  /** How often the sign of c_σ changed along the trajectory. */
  readonly signChanges: number
}

/**
 * When the basin was decided: the earliest point of the trajectory (sorted by step) after which every point has the
 * final sign. Points without a sign (c_σ = 0) count as undecided. Null for an empty trajectory or one that ends
 * without a sign.
 */
export const decisionOf = (trajectory: ReadonlyArray<TrajectoryPoint>): Decision | null => {
  const points = [...trajectory].sort((p, q) => p.step - q.step)
  const final = basinOf(points.at(-1)?.cSigma)
  if (final === null) return null
  let first = points.length - 1
  while (first > 0 && basinOf(points[first - 1]!.cSigma) === final) first--
  let signChanges = 0
  for (let i = 1; i < points.length; i++) {
    const before = basinOf(points[i - 1]!.cSigma)
    const after = basinOf(points[i]!.cSigma)
    if (before !== null && after !== null && before !== after) signChanges++
  }
  return { step: points[first]!.step, basin: final, signChanges }
}

/** The sign of c_σ at a step: at the last trajectory point at or before it. */
export const basinAt = (trajectory: ReadonlyArray<TrajectoryPoint>, step: number): Basin | null => {
  let found: TrajectoryPoint | undefined
  for (const point of trajectory) if (point.step <= step && (found === undefined || point.step >= found.step)) found = point
  return basinOf(found?.cSigma)
}

/**
 * How well the sign of c_σ at step k predicts the final basin, over runs: for each k, the runs whose basin at k equals
 * their final basin, with a Wilson interval.
 */
export const predictionBySteps = (
  runs: ReadonlyArray<{ readonly trajectory: ReadonlyArray<TrajectoryPoint>; readonly final: Basin }>,
  steps: ReadonlyArray<number>
): Array<{ readonly step: number; readonly agreement: Proportion }> =>
  steps.map((step) => ({
    step,
    agreement: wilsonInterval(runs.filter((run) => basinAt(run.trajectory, step) === run.final).length, runs.length)
  }))

/**
 * The early-stopping rule (classification config `earlyStop`): a run's basin counts as decided at an evaluation step
 * when |c_σ| ≥ minCSigma there and c_σ has kept that sign at every evaluation point of the last `patience` steps (the
 * point `patience` steps back included; the rule needs a point that far back).
 */
export const basinDecidedAt = (
  trajectory: ReadonlyArray<TrajectoryPoint>,
  rule: { readonly patience: number; readonly minCSigma: number }
): boolean => {
  const last = trajectory.at(-1)
  if (last === undefined) return false
  const basin = basinOf(last.cSigma)
  if (basin === null || Math.abs(last.cSigma) < rule.minCSigma) return false
  const from = last.step - rule.patience
  if (from < 0 || !trajectory.some((p) => p.step <= from)) return false
  // The window starts at the last point at or before `from`.
  const window = trajectory.filter((p) => p.step >= from)
  const anchor = [...trajectory].reverse().find((p) => p.step <= from)!
  return [anchor, ...window].every((p) => basinOf(p.cSigma) === basin)
}

/**
 * The area under the ROC curve of a predictor for selection: the probability that a selection run's value exceeds an
 * elimination run's (ties count half; the Mann–Whitney U over n₁n₂), with the standard error of Hanley & McNeil
 * (1982): SE² = (A(1 − A) + (n₁ − 1)(Q₁ − A²) + (n₂ − 1)(Q₂ − A²)) / (n₁n₂), Q₁ = A/(2 − A), Q₂ = 2A²/(1 + A).
 */
export const rocArea = (
  selection: ReadonlyArray<number>,
  elimination: ReadonlyArray<number>
): { readonly area: number; readonly standardError: number } => {
  const n1 = selection.length
  const n2 = elimination.length
  if (n1 === 0 || n2 === 0) return { area: Number.NaN, standardError: Number.NaN }
  let wins = 0
  for (const s of selection) for (const e of elimination) wins += s > e ? 1 : s === e ? 0.5 : 0
  const A = wins / (n1 * n2)
  const q1 = A / (2 - A)
  const q2 = (2 * A * A) / (1 + A)
  const variance = (A * (1 - A) + (n1 - 1) * (q1 - A * A) + (n2 - 1) * (q2 - A * A)) / (n1 * n2)
  return { area: A, standardError: Math.sqrt(Math.max(variance, 0)) }
}

/** The early-stopping rule in words, as a run that stopped early records it. */
export const earlyStopRule = (rule: { readonly patience: number; readonly minCSigma: number }): string =>
  `basin decided: |c_σ| ≥ ${rule.minCSigma} with its sign unchanged over the last ${rule.patience} steps`
