/**
 * Results tables of a sweep: one row per run, and an aggregate over seeds per configuration with mean ± 95%
 * confidence intervals (Student's t) and the split of learned solutions.
 */
import jStat from "jstat"
export type Cell = string | number | boolean | null

export interface ResultRow {
  readonly [column: string]: Cell
}

/** The two-sided 95% quantile of Student's t with ν degrees of freedom, t_{0.975, ν}, for any ν ≥ 1. */
export const t95 = (degreesOfFreedom: number): number => jStat.studentt.inv(0.975, degreesOfFreedom)

export interface MeanInterval {
  readonly mean: number
  /** Half-width of the 95% interval; NaN with fewer than two values. */
  readonly halfWidth: number
  /** Standard error of the mean (sample standard deviation / √count); NaN with fewer than two values. */
  readonly se: number
  /** The 95% interval's ends, clipped to the quantity's range when it has one (mean when the half-width is NaN). */
  readonly lo: number
  readonly hi: number
  readonly count: number
}

/** The range a bounded quantity lives in (a probability in [0, 1], a cosine in [−1, 1], a loss in [0, ∞)). */
export type Bounds = readonly [lo: number, hi: number]

export const PROBABILITY: Bounds = [0, 1]
export const COSINE: Bounds = [-1, 1]
export const NON_NEGATIVE: Bounds = [0, Number.POSITIVE_INFINITY]
export const UNBOUNDED: Bounds = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]


/**
 * Mean over the finite values, the standard error of the mean and the 95% interval (Student's t). A bounded quantity's
 * interval is clipped to its range: a mean of cosines 0.9997 ± 0.0005 is reported as [0.9992, 1], not up to 1.0002.
 */
export const meanInterval = (values: ReadonlyArray<number>, bounds: Bounds = UNBOUNDED): MeanInterval => {
  const finite = values.filter(Number.isFinite)
  const count = finite.length
  if (count === 0) return { mean: Number.NaN, halfWidth: Number.NaN, se: Number.NaN, lo: Number.NaN, hi: Number.NaN, count }
  const mean = finite.reduce((s, v) => s + v, 0) / count
  if (count < 2) return { mean, halfWidth: Number.NaN, se: Number.NaN, lo: mean, hi: mean, count }
  const variance = finite.reduce((s, v) => s + (v - mean) ** 2, 0) / (count - 1)
  const se = Math.sqrt(variance / count)
  const halfWidth = t95(count - 1) * se
  return { mean, halfWidth, se, lo: Math.max(bounds[0], mean - halfWidth), hi: Math.min(bounds[1], mean + halfWidth), count }
}

/** Mean and standard error of the mean of many values (per-context metrics: N in the thousands, no t quantile). */
export interface Estimate {
  readonly mean: number
  readonly se: number
}

/** Mean and standard error (sample standard deviation / √N) of every value; NaN when there are fewer than two. */
export const meanAndSe = (values: ArrayLike<number>): Estimate => {
  const N = values.length
  let sum = 0
  for (let i = 0; i < N; i++) sum += values[i]!
  const mean = N > 0 ? sum / N : Number.NaN
  if (N < 2) return { mean, se: Number.NaN }
  let squares = 0
  for (let i = 0; i < N; i++) squares += (values[i]! - mean) ** 2
  return { mean, se: Math.sqrt(squares / (N - 1) / N) }
}

/** How much a quantity moves across repeated measurements (e.g. the same loss on independent evaluation sets). */
export interface Spread {
  readonly mean: number
  /** Sample standard deviation (NaN with fewer than two values). */
  readonly sd: number
  /** sd / |mean|. */
  readonly relativeSd: number
  readonly min: number
  readonly max: number
  readonly count: number
}

export const spreadOf = (values: ReadonlyArray<number>): Spread => {
  const count = values.length
  const mean = count > 0 ? values.reduce((s, v) => s + v, 0) / count : Number.NaN
  const sd = count > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (count - 1)) : Number.NaN
  return { mean, sd, relativeSd: sd / Math.abs(mean), min: Math.min(...values), max: Math.max(...values), count }
}

/**
 * The paired difference of two metrics measured on the same items (a − b per context): its mean and standard error.
 * Pairing removes the variation the two share (hard contexts are hard for both), so the SE of the difference is far
 * smaller than the two separate SEs combined.
 */
export const pairedDifference = (a: ArrayLike<number>, b: ArrayLike<number>): Estimate => {
  if (a.length !== b.length) throw new Error(`paired difference of ${a.length} and ${b.length} values`)
  const differences = new Float64Array(a.length)
  for (let i = 0; i < a.length; i++) differences[i] = a[i]! - b[i]!
  return meanAndSe(differences)
}

/** The columns that identify a run in a results table: its id, seed and the value of every sweep axis. */
export const runColumns = (run: { readonly id: string; readonly seed: number; readonly axes: Readonly<Record<string, unknown>> }): ResultRow => ({
  run_id: run.id,
  seed: run.seed,
  ...Object.fromEntries(Object.entries(run.axes).map(([path, v]) => [path, typeof v === "object" ? JSON.stringify(v) : (v as Cell)]))
})

/** A number as stored in CSV files: 8 significant digits, empty when not finite. */
export const csvNumber = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(8))) : "")

/** A row-major D × D matrix as nested arrays (its form in weights.json). */
export const matrixRows = (m: Float64Array, D: number): Array<Array<number>> =>
  Array.from({ length: D }, (_, r) => Array.from(m.subarray(r * D, (r + 1) * D)))

const csvCell = (value: Cell): string => {
  if (value === null) return ""
  if (typeof value === "number") return csvNumber(value)
  const text = String(value)
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export const toCsv = (columns: ReadonlyArray<string>, rows: ReadonlyArray<ResultRow>): string =>
  `${[columns.join(","), ...rows.map((row) => columns.map((c) => csvCell(row[c] ?? null)).join(","))].join("\n")}\n`

/** A number with fixed digits for a result line; "—" when it is missing or not finite. */
export const fixed = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits)

/**
 * A number to `digits` decimals; one that those decimals would round to zero but is not zero in two significant digits
 * ("4.6e-5", not "0.0000": a reference's loss of 4.6·10⁻⁵ ± 2.2·10⁻⁵ is a measurement, not a zero).
 */
export const formatNumber = (v: number, digits: number) => {
  if (!Number.isFinite(v)) return "—"
  return v !== 0 && Math.abs(v) < 0.5 * 10 ** -digits ? v.toExponential(1) : v.toFixed(digits)
}

/**
 * "mean ± half-width"; an interval clipped to its quantity's range is written by its ends instead, "mean [lo, hi]",
 * since it is no longer symmetric.
 */
export const formatInterval = (m: MeanInterval, digits = 4): string => {
  if (!Number.isFinite(m.halfWidth)) return formatNumber(m.mean, digits)
  const clipped = m.lo > m.mean - m.halfWidth || m.hi < m.mean + m.halfWidth
  return clipped
    ? `${formatNumber(m.mean, digits)} [${formatNumber(m.lo, digits)}, ${formatNumber(m.hi, digits)}]`
    : `${formatNumber(m.mean, digits)} ± ${formatNumber(m.halfWidth, digits)}`
}

/** "mean ± SE" of an estimate; "mean" alone when the SE is not finite. */
export const formatEstimate = (e: Estimate, digits = 4): string =>
  Number.isFinite(e.se) ? `${formatNumber(e.mean, digits)} ± ${formatNumber(e.se, digits)}` : formatNumber(e.mean, digits)

export const toMarkdown = (columns: ReadonlyArray<string>, rows: ReadonlyArray<Record<string, string>>): string =>
  `${[
    `| ${columns.join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${columns.map((c) => row[c] ?? "").join(" | ")} |`)
  ].join("\n")}\n`

/** A metric's aggregate.csv columns: mean, 95% half-width, the interval's ends (clipped to its range) and the SE. */
export const intervalColumns = (name: string, m: MeanInterval): Array<[string, Cell]> => [
  [`${name}_mean`, m.mean],
  [`${name}_ci95`, m.halfWidth],
  [`${name}_lo`, m.lo],
  [`${name}_hi`, m.hi],
  [`${name}_se`, m.se]
]

/** The aggregate.csv row of a group: its key, run counts, and the mean, 95% interval and SE of each metric. */
export const aggregateRow = (g: AggregateGroup, metricColumns: ReadonlyArray<string>): ResultRow => ({
  ...g.key,
  runs: g.runs,
  failed: g.failed,
  ...Object.fromEntries(metricColumns.flatMap((m) => intervalColumns(m, g.metrics[m]!)))
})

/** The runs cell of an aggregate markdown table: "4", or "4 (1 failed)". */
export const runsCell = (g: AggregateGroup): string => (g.failed > 0 ? `${g.runs} (${g.failed} failed)` : String(g.runs))

export interface AggregateGroup {
  readonly key: Readonly<Record<string, Cell>>
  readonly runs: number
  readonly failed: number
  readonly metrics: Readonly<Record<string, MeanInterval>>
  /**
   * The same aggregate within each learned solution kind (the "solution" column: selection, elimination): its seeds,
   * its mean loss, and every metric over its seeds alone. Parameters such as c_σ must be read here: averaging c_σ ≈ −7
   * and c_σ ≈ +27 over seeds of both kinds describes no model.
   */
  readonly solutions: Readonly<
    Record<string, { readonly count: number; readonly loss: MeanInterval; readonly metrics: Readonly<Record<string, MeanInterval>> }>
  >
}

/** The rows grouped by their values in the key columns (the sweep axes), groups in order of first appearance. */
export const groupRows = (rows: ReadonlyArray<ResultRow>, keyColumns: ReadonlyArray<string>): Array<Array<ResultRow>> => {
  const groups = new Map<string, Array<ResultRow>>()
  for (const row of rows) {
    const key = JSON.stringify(keyColumns.map((c) => row[c] ?? null))
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  return [...groups.values()]
}

/**
 * Groups finished rows by the given key columns (the sweep axes) and aggregates the metric columns over everything
 * else (the seeds); `bounds` gives the range of bounded metrics, whose intervals are clipped to it.
 */
export const aggregate = (
  rows: ReadonlyArray<ResultRow>,
  keyColumns: ReadonlyArray<string>,
  metricColumns: ReadonlyArray<string>,
  bounds: Readonly<Record<string, Bounds>> = {}
): Array<AggregateGroup> =>
  groupRows(rows, keyColumns).map((members) => {
    const finished = members.filter((r) => r["status"] === "done")
    const metricsOf = (of: ReadonlyArray<ResultRow>) => {
      const numbers = (column: string) => of.map((r) => r[column]).filter((v): v is number => typeof v === "number")
      return Object.fromEntries(metricColumns.map((m) => [m, meanInterval(numbers(m), bounds[m])]))
    }
    const metrics = metricsOf(finished)
    const kinds = [...new Set(finished.map((r) => r["solution"]).filter((v): v is string => typeof v === "string" && v !== ""))].sort()
    const solutions = Object.fromEntries(
      kinds.map((kind) => {
        const ofKind = finished.filter((r) => r["solution"] === kind)
        return [
          kind,
          { count: ofKind.length, loss: meanInterval(ofKind.map((r) => r["final_loss"] as number), bounds["final_loss"]), metrics: metricsOf(ofKind) }
        ]
      })
    )
    return {
      key: Object.fromEntries(keyColumns.map((c) => [c, members[0]![c] ?? null])),
      runs: members.length,
      failed: members.length - finished.length,
      metrics,
      solutions
    }
  })
