/**
 * Vega-Lite specs of the figures every kind's report draws, built from plain data (no I/O, no rendering): bands over
 * seeds through training, per-context scatters, series along a sweep axis. Each spec is saved next to its rendering
 * so that a user can restyle it. A kind's own figures live in its folder.
 */
import type { TopLevelSpec } from "vega-lite"
import { type Bounds, meanInterval } from "./Results.js"

export const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
export const FONT = {
  config: { font: "DejaVu Sans, Helvetica, Arial, sans-serif", view: { stroke: "#ddd" }, legend: { labelLimit: 320 } }
}

export interface BandPoint {
  readonly panel: string
  readonly series: string
  readonly x: number
  readonly mean: number
  readonly lo: number
  readonly hi: number
}

/**
 * The mean over seeds and its 95% band, clipped to the quantity's range when it has one (a single value gets a band of
 * zero width).
 */
export const band = (values: ReadonlyArray<number>, bounds?: Bounds): Pick<BandPoint, "mean" | "lo" | "hi"> => {
  const m = meanInterval(values, bounds)
  return { mean: m.mean, lo: m.lo, hi: m.hi }
}

/** A metric of the alignment figure: its name in the data, its axis title (with what it measures), its scale. */
export interface AlignmentMetric {
  readonly metric: string
  readonly title: string
  /** A log axis, for a distance whose curves span orders of magnitude (model diff). */
  readonly log?: boolean
}

/**
 * Alignment metrics through training (Figures 4a, 5a): mean line and a band over seeds, one row per configuration,
 * one panel per metric with its own y axis and title. On a log axis a band's lower end at or below 0 is drawn at the mean.
 */
export const alignmentFigure = (
  points: ReadonlyArray<BandPoint & { readonly metric: string }>,
  title: string,
  metrics: ReadonlyArray<AlignmentMetric> = [...new Set(points.map((p) => p.metric))].map((metric) => ({ metric, title: metric }))
): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  data: {
    values: points.map((p) => (metrics.find((m) => m.metric === p.metric)?.log && !(p.lo > 0) ? { ...p, lo: p.mean } : p)) as Array<
      BandPoint & { metric: string }
    >
  },
  // One row per configuration (sweeps with many configurations grow down, not across), one panel per metric, each with
  // its own y axis and title.
  vconcat: [...new Set(points.map((p) => p.panel))].map((panel) => ({
    title: { text: panel, anchor: "start" as const, fontSize: 12 },
    hconcat: metrics.map(({ metric, title: yTitle, log }) => ({
      transform: [{ filter: { and: [{ field: "panel", equal: panel }, { field: "metric", equal: metric }] } }],
      width: 260,
      height: 120,
      layer: [
        {
          mark: { type: "area" as const, opacity: 0.25 },
          encoding: {
            x: {
              field: "x",
              type: "quantitative" as const,
              scale: { type: "symlog" as const },
              title: "training step",
              axis: {
                values: [0, 1, 10, 100, 1000, 10000, 100000],
                labelExpr: "datum.value >= 1000 ? datum.value / 1000 + 'k' : datum.value"
              }
            },
            y: {
              field: "lo",
              type: "quantitative" as const,
              title: yTitle,
              ...(log ? { scale: { type: "log" as const }, axis: { tickCount: 4, format: "~g" } } : {})
            },
            y2: { field: "hi" },
            color: { field: "series", type: "nominal" as const, title: "against" }
          }
        },
        {
          mark: { type: "line" as const, point: { size: 12 } },
          encoding: {
            x: { field: "x", type: "quantitative" as const, scale: { type: "symlog" as const } },
            y: { field: "mean", type: "quantitative" as const, scale: log ? { type: "log" as const } : { zero: false } },
            color: { field: "series", type: "nominal" as const }
          }
        }
      ]
    })),
    resolve: { scale: { y: "independent" as const } }
  })),
  ...FONT
})

export interface ScatterPanel {
  readonly metric: string
  readonly points: ReadonlyArray<{ readonly reference: number; readonly model: number }>
  readonly meanReference: number
  readonly meanModel: number
}

/** Per-context scatters of the model against its GD reference with the identity line and dotted means (Figs 4b–d, 5b–d). */
export const scatterFigure = (panels: ReadonlyArray<ScatterPanel>, title: string, referenceLabel: string): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  hconcat: panels.map((panel) => {
    const values = panel.points.flatMap((p) => [p.reference, p.model])
    const lo = Math.min(...values)
    const hi = Math.max(...values)
    return {
      title: panel.metric,
      width: 220,
      height: 220,
      layer: [
        {
          data: { values: panel.points as Array<{ reference: number; model: number }> },
          mark: { type: "circle", size: 6, opacity: 0.35 },
          encoding: {
            x: { field: "reference", type: "quantitative", title: `${referenceLabel}: ${panel.metric}`, scale: { domain: [lo, hi] } },
            y: { field: "model", type: "quantitative", title: `trained model: ${panel.metric}`, scale: { domain: [lo, hi] } }
          }
        },
        {
          data: { values: [{ a: lo, b: lo }, { a: hi, b: hi }] },
          mark: { type: "line", color: "#444", strokeWidth: 1 },
          encoding: { x: { field: "a", type: "quantitative" }, y: { field: "b", type: "quantitative" } }
        },
        {
          data: { values: [{ v: panel.meanReference }] },
          mark: { type: "rule", strokeDash: [2, 3], color: "#d62728" },
          encoding: { x: { field: "v", type: "quantitative" } }
        },
        {
          data: { values: [{ v: panel.meanModel }] },
          mark: { type: "rule", strokeDash: [2, 3], color: "#d62728" },
          encoding: { y: { field: "v", type: "quantitative" } }
        }
      ]
    }
  }),
  ...FONT
})

/**
 * Ticks of a symlog axis with linear part `constant`: 0 and ±10^k from the constant up to the data's extent; every
 * other decade when one side would get more than four.
 */
export const symlogTicks = (lo: number, hi: number, constant: number): Array<number> => {
  const side = (extent: number) => {
    const decades: Array<number> = []
    for (let k = Math.ceil(Math.log10(constant)); 10 ** k <= extent; k++) decades.push(10 ** k)
    return decades.length > 4 ? decades.filter((_, i) => (decades.length - 1 - i) % 2 === 0) : decades
  }
  return [...side(-lo).map((v) => -v).reverse(), 0, ...side(hi)]
}
/** Tick labels of a symlog axis: 1000 and above as "1k". */
export const SYMLOG_LABEL = "abs(datum.value) >= 1000 ? format(datum.value / 1000, '~g') + 'k' : format(datum.value, '~g')"

/** Fixed colours and dashes for a figure's series (e.g. models solid, references dashed). */
export interface SeriesStyle {
  readonly color?: { readonly domain: ReadonlyArray<string>; readonly range: ReadonlyArray<string> }
  readonly strokeDash?: { readonly domain: ReadonlyArray<string>; readonly range: ReadonlyArray<ReadonlyArray<number>> }
  /** A log y axis from this value up (> 0); a value below it (and an interval's end) is drawn at the axis's lower end. */
  readonly logYFrom?: number
  /** A symlog y axis with this linear part around 0 (values of both signs spanning decades), ticks at 0 and ±10^k. */
  readonly symlogY?: number
}

/** Mean ± 95% CI of some quantity along an axis, one line per series (final loss, learned c_σ, context length). */
export const seriesFigure = (
  points: ReadonlyArray<BandPoint>,
  title: string,
  xTitle: string,
  yTitle: string,
  logX: boolean,
  style: SeriesStyle = {}
): TopLevelSpec => {
  // With dashes, the legend draws each series as a short line in its colour and dash (a model solid, a reference
  // dashed), not as a dot that hides the difference.
  const legend = style.strokeDash ? { legend: { symbolType: "stroke", symbolStrokeWidth: 2.5, symbolSize: 400 } } : {}
  const color = {
    field: "series",
    type: "nominal",
    title: null,
    ...(style.color ? { scale: { domain: [...style.color.domain], range: [...style.color.range] } } : {}),
    ...legend
  } as const
  const strokeDash = style.strokeDash
    ? { strokeDash: { field: "series", type: "nominal", title: null, scale: { domain: [...style.strokeDash.domain], range: style.strokeDash.range.map((d) => [...d]) } } as const }
    : {}
  const values = points.flatMap((p) => [p.lo, p.mean, p.hi]).filter(Number.isFinite)
  const yScale =
    style.logYFrom !== undefined
      ? { scale: { type: "log", domainMin: style.logYFrom, clamp: true } as const }
      : style.symlogY !== undefined
        ? { scale: { type: "symlog", constant: style.symlogY } as const }
        : {}
  const yAxis =
    style.symlogY !== undefined && values.length > 0
      ? { axis: { values: symlogTicks(Math.min(0, ...values), Math.max(0, ...values), style.symlogY), labelExpr: SYMLOG_LABEL } }
      : {}
  // One panel needs no header (its name would be a placeholder such as "all").
  const single = new Set(points.map((p) => p.panel)).size <= 1
  return {
    $schema: SCHEMA,
    title,
    data: { values: points as Array<BandPoint> },
    facet: { column: { field: "panel", type: "nominal", title: null, ...(single ? { header: { labels: false } } : {}) } },
    spec: {
      width: 300,
      height: 220,
      layer: [
        {
          mark: { type: "errorbar", ticks: true },
          encoding: {
            x: { field: "x", type: "quantitative", scale: logX ? { type: "log", nice: false } : { zero: false, nice: false }, title: xTitle },
            y: { field: "lo", type: "quantitative", title: yTitle, ...yScale, ...yAxis },
            y2: { field: "hi" },
            color
          }
        },
        {
          mark: { type: "line", point: true },
          encoding: {
            x: { field: "x", type: "quantitative" },
            y: { field: "mean", type: "quantitative", ...(yScale.scale ? yScale : { scale: { zero: false } }) },
            color,
            ...strokeDash
          }
        }
      ]
    },
    ...FONT
  }
}
