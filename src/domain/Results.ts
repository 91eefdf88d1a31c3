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
const t95 = (degreesOfFreedom: number): number => jStat.studentt.inv(0.975, degreesOfFreedom)

export interface MeanInterval {
  readonly mean: number
  /** Half-width of the 95% interval; NaN with fewer than two values. */
  readonly halfWidth: number
  readonly count: number
}

export const meanInterval = (values: ReadonlyArray<number>): MeanInterval => {
  const finite = values.filter(Number.isFinite)
  const count = finite.length
  if (count === 0) return { mean: Number.NaN, halfWidth: Number.NaN, count }
  const mean = finite.reduce((s, v) => s + v, 0) / count
  if (count < 2) return { mean, halfWidth: Number.NaN, count }
  const variance = finite.reduce((s, v) => s + (v - mean) ** 2, 0) / (count - 1)
  const t = t95(count - 1)
  return { mean, halfWidth: (t * Math.sqrt(variance)) / Math.sqrt(count), count }
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

const formatNumber = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : "—")
export const formatInterval = (m: MeanInterval, digits = 4): string =>
  Number.isFinite(m.halfWidth) ? `${formatNumber(m.mean, digits)} ± ${formatNumber(m.halfWidth, digits)}` : formatNumber(m.mean, digits)

export const toMarkdown = (columns: ReadonlyArray<string>, rows: ReadonlyArray<Record<string, string>>): string =>
  `${[
    `| ${columns.join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${columns.map((c) => row[c] ?? "").join(" | ")} |`)
  ].join("\n")}\n`

/** The aggregate.csv row of a group: its key, run counts, and the mean and 95% half-width of each metric. */
export const aggregateRow = (g: AggregateGroup, metricColumns: ReadonlyArray<string>): ResultRow => ({
  ...g.key,
  runs: g.runs,
  failed: g.failed,
  ...Object.fromEntries(
    metricColumns.flatMap((m) => [
      [`${m}_mean`, g.metrics[m]!.mean],
      [`${m}_ci95`, g.metrics[m]!.halfWidth]
    ])
  )
})

/** The runs cell of an aggregate markdown table: "4", or "4 (1 failed)". */
export const runsCell = (g: AggregateGroup): string => (g.failed > 0 ? `${g.runs} (${g.failed} failed)` : String(g.runs))

export interface AggregateGroup {
  readonly key: Readonly<Record<string, Cell>>
  readonly runs: number
  readonly failed: number
  readonly metrics: Readonly<Record<string, MeanInterval>>
  /** Seeds per learned solution kind, with the mean loss of each kind. */
  readonly solutions: Readonly<Record<string, { readonly count: number; readonly loss: MeanInterval }>>
}

/**
 * Groups finished rows by the given key columns (the sweep axes) and aggregates the metric columns over everything
 * else (the seeds).
 */
export const aggregate = (
  rows: ReadonlyArray<ResultRow>,
  keyColumns: ReadonlyArray<string>,
  metricColumns: ReadonlyArray<string>
): Array<AggregateGroup> => {
  const groups = new Map<string, Array<ResultRow>>()
  for (const row of rows) {
    const key = JSON.stringify(keyColumns.map((c) => row[c] ?? null))
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  return [...groups.values()].map((members) => {
    const finished = members.filter((r) => r["status"] === "done")
    const numbers = (column: string) => finished.map((r) => r[column]).filter((v): v is number => typeof v === "number")
    const metrics = Object.fromEntries(metricColumns.map((m) => [m, meanInterval(numbers(m))]))
    const kinds = [...new Set(finished.map((r) => r["solution"]).filter((v): v is string => typeof v === "string" && v !== ""))].sort()
    const solutions = Object.fromEntries(
      kinds.map((kind) => {
        const ofKind = finished.filter((r) => r["solution"] === kind)
        return [kind, { count: ofKind.length, loss: meanInterval(ofKind.map((r) => r["final_loss"] as number)) }]
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
}
