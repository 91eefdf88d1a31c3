/**
 * Vega-Lite specs of the classification report's own figures: example contexts (Figure 2) and the CA-KGD loss
 * landscape over (c_σ, b) with the learned parameters through training.
 */
import type { TopLevelSpec } from "vega-lite"
import { FONT, SCHEMA, SYMLOG_LABEL, symlogTicks } from "../Figures.js"
import type { ReferenceKind } from "./GdMath.js"

/** The name a reference goes by in figures and tables. */
export const referenceName = (kind: ReferenceKind): string =>
  ({ "gd-linear": "GD-lin", "kgd-fixed": "KGD-fixed", "ca-kgd": "CA-KGD", "ca-gd-linear": "CA-GD-lin" })[kind]

export interface ContextPanel {
  readonly view: string
  /** The coordinates shown ("x₁", "x₂"). */
  readonly xTitle: string
  readonly yTitle: string
  readonly points: ReadonlyArray<{ readonly u: number; readonly v: number; readonly label: string }>
  readonly arrows: ReadonlyArray<{ readonly u: number; readonly v: number; readonly label: string }>
}

/** Example contexts (Figure 2): class vectors as arrows, context points coloured by label. */
export const contextsFigure = (panels: ReadonlyArray<ContextPanel>, title: string): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  hconcat: panels.map((panel) => ({
    title: panel.view,
    width: 200,
    height: 200,
    layer: [
      {
        data: { values: panel.points as Array<{ u: number; v: number; label: string }> },
        mark: { type: "circle", size: 22, opacity: 0.8 },
        encoding: {
          x: { field: "u", type: "quantitative", scale: { domain: [-1.1, 1.1] }, title: panel.xTitle },
          y: { field: "v", type: "quantitative", scale: { domain: [-1.1, 1.1] }, title: panel.yTitle },
          color: { field: "label", type: "nominal", title: "class" }
        }
      },
      {
        data: { values: panel.arrows.map((a) => ({ ...a, u0: 0, v0: 0 })) },
        mark: { type: "rule", strokeWidth: 2.5 },
        encoding: {
          x: { field: "u0", type: "quantitative" },
          y: { field: "v0", type: "quantitative" },
          x2: { field: "u" },
          y2: { field: "v" },
          color: { field: "label", type: "nominal" }
        }
      },
      {
        data: { values: panel.arrows as Array<{ u: number; v: number; label: string }> },
        mark: { type: "point", shape: "triangle", size: 90, filled: true, stroke: "black", strokeWidth: 0.5 },
        encoding: {
          x: { field: "u", type: "quantitative" },
          y: { field: "v", type: "quantitative" },
          color: { field: "label", type: "nominal" }
        }
      }
    ]
  })),
  ...FONT
})

export interface LandscapeCell {
  readonly x0: number
  readonly x1: number
  readonly y0: number
  readonly y1: number
  readonly loss: number
}

export interface TrajectoryPoint {
  readonly run: string
  readonly step: number
  readonly cSigma: number
  readonly scale: number
  readonly last: boolean
}


/** The landscape's plot size (px) and its axes' symlog constants. */
const LANDSCAPE_WIDTH = 460
const LANDSCAPE_HEIGHT = 360
const C_SIGMA_CONSTANT = 0.1
const SCALE_CONSTANT = 0.01
/** How far apart (px) two end labels must start not to be written over each other: one line of 10 px text, ~21 characters. */
const LABEL_HEIGHT = 13
const LABEL_WIDTH = 120

const symlog = (v: number, constant: number) => Math.sign(v) * Math.log1p(Math.abs(v) / constant)

/** The plotted extent of the landscape's axes. */
export interface LandscapeExtent {
  readonly cSigma: readonly [number, number]
  readonly scale: readonly [number, number]
}

/**
 * Labels of the end points, one line per seed, "seed 3: (c_σ, b)"; seeds whose end points coincide to the label's
 * precision share one line ("seeds 0, 3: (…)"). With the plot's extent, end points whose labels would be written over
 * each other (closer than a line's height, and a label's width, on the plot) share one label of several lines, placed
 * at the highest of them: "seed 0: (14.8, 17.59)\nseed 1: (14.8, 17.52)". Lines are separated by "\n" (the text
 * mark's lineBreak).
 */
export const endLabels = (
  trajectories: ReadonlyArray<TrajectoryPoint>,
  extent?: LandscapeExtent
): Array<TrajectoryPoint & { readonly label: string }> => {
  const lines = new Map<string, Array<TrajectoryPoint>>()
  for (const p of trajectories.filter((t) => t.last)) {
    const key = `(${p.cSigma.toFixed(1)}, ${p.scale.toFixed(2)})`
    lines.set(key, [...(lines.get(key) ?? []), p])
  }
  const entries = [...lines.entries()].map(([values, members]) => ({
    point: members[0]!,
    line: `${members.length === 1 ? members[0]!.run : `seeds ${members.map((m) => m.run.replace(/^seed /, "")).join(", ")}`}: ${values}`
  }))
  if (extent === undefined) return entries.map((e) => ({ ...e.point, label: e.line }))
  // Positions on the plot (px from the lower left corner).
  const position = (p: TrajectoryPoint) => {
    const fraction = (v: number, [lo, hi]: readonly [number, number], c: number) => (symlog(v, c) - symlog(lo, c)) / (symlog(hi, c) - symlog(lo, c))
    return { x: fraction(p.cSigma, extent.cSigma, C_SIGMA_CONSTANT) * LANDSCAPE_WIDTH, y: fraction(p.scale, extent.scale, SCALE_CONSTANT) * LANDSCAPE_HEIGHT }
  }
  // From the top down, each line joins the first label it would overlap (by any of its lines), or starts a new one.
  const clusters: Array<Array<{ readonly point: TrajectoryPoint; readonly line: string; readonly x: number; readonly y: number }>> = []
  for (const entry of entries.map((e) => ({ ...e, ...position(e.point) })).sort((a, b) => b.y - a.y)) {
    const near = clusters.find((cluster) => {
      const top = cluster[0]!
      return Math.abs(entry.x - top.x) < LABEL_WIDTH && top.y - entry.y < LABEL_HEIGHT * cluster.length
    })
    if (near) near.push(entry)
    else clusters.push([entry])
  }
  return clusters.map((cluster) => ({ ...cluster[0]!.point, label: cluster.map((e) => e.line).join("\n") }))
}

/** The CA-KGD loss landscape over (c_σ, b) with the learned parameters through training overlaid. */
export const landscapeFigure = (
  cells: ReadonlyArray<LandscapeCell>,
  trajectories: ReadonlyArray<TrajectoryPoint>,
  title: string,
  clip: number
): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  width: LANDSCAPE_WIDTH,
  height: LANDSCAPE_HEIGHT,
  layer: [
    {
      data: { values: cells as Array<LandscapeCell> },
      mark: { type: "rect" },
      encoding: {
        x: {
          field: "x0",
          type: "quantitative",
          scale: { type: "symlog", constant: C_SIGMA_CONSTANT },
          title: "c_σ (kernel inverse width; symlog)",
          axis: { values: symlogTicks(Math.min(...cells.map((c) => c.x0)), Math.max(...cells.map((c) => c.x1)), C_SIGMA_CONSTANT), labelExpr: SYMLOG_LABEL }
        },
        x2: { field: "x1" },
        y: {
          field: "y0",
          type: "quantitative",
          scale: { type: "symlog", constant: SCALE_CONSTANT },
          title: "b = c_η / n (step; symlog)",
          axis: { values: symlogTicks(Math.min(...cells.map((c) => c.y0)), Math.max(...cells.map((c) => c.y1)), SCALE_CONSTANT), labelExpr: SYMLOG_LABEL }
        },
        y2: { field: "y1" },
        color: {
          field: "loss",
          type: "quantitative",
          title: "mean CE (nats)",
          scale: { scheme: "viridis", reverse: true, domainMax: clip, clamp: true }
        }
      }
    },
    {
      data: { values: trajectories as Array<TrajectoryPoint> },
      mark: { type: "line", color: "white", strokeWidth: 1.5 },
      encoding: {
        x: { field: "cSigma", type: "quantitative" },
        y: { field: "scale", type: "quantitative" },
        detail: { field: "run", type: "nominal" },
        order: { field: "step", type: "quantitative" }
      }
    },
    {
      data: { values: trajectories.filter((p) => p.last) as Array<TrajectoryPoint> },
      mark: { type: "point", shape: "diamond", size: 110, filled: true, color: "#ff4136", stroke: "white" },
      encoding: {
        x: { field: "cSigma", type: "quantitative" },
        y: { field: "scale", type: "quantitative" },
        tooltip: [{ field: "run" }, { field: "cSigma" }, { field: "scale" }]
      }
    },
    {
      // Each end point labelled with its values, (c_σ, b).
      data: {
        values: endLabels(trajectories, {
          cSigma: [Math.min(...cells.map((c) => c.x0)), Math.max(...cells.map((c) => c.x1))],
          scale: [Math.min(...cells.map((c) => c.y0)), Math.max(...cells.map((c) => c.y1))]
        }) as Array<TrajectoryPoint & { label: string }>
      },
      mark: { type: "text", align: "left", baseline: "top", dx: 8, dy: -8, lineBreak: "\n", fontSize: 10, color: "white", stroke: "black", strokeWidth: 0.25 },
      encoding: {
        x: { field: "cSigma", type: "quantitative" },
        y: { field: "scale", type: "quantitative" },
        text: { field: "label" }
      }
    }
  ],
  ...FONT
})

/**
 * How each learner is drawn in every classification figure: trained models solid, references dashed, a model and the
 * reference it implements in one hue (linear SA and GD-lin blue, exp SA and KGD-fixed orange, softmax SA and CA-KGD
 * green), CA-GD-lin purple. Series named otherwise get the fallback colours in order.
 */
export const LEARNER_STYLES: ReadonlyArray<{ readonly name: string; readonly color: string; readonly dashed: boolean }> = [
  { name: "linear SA", color: "#1f77b4", dashed: false },
  { name: "GD-lin*", color: "#6baed6", dashed: true },
  { name: "exp SA", color: "#e6550d", dashed: false },
  { name: "KGD-fixed*", color: "#fdae6b", dashed: true },
  { name: "softmax SA", color: "#2ca02c", dashed: false },
  { name: "CA-KGD*", color: "#74c476", dashed: true },
  { name: "CA-GD-lin*", color: "#9467bd", dashed: true }
]
const FALLBACK_COLORS = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"]

/**
 * A colour scale and a dash scale for the given series names: LEARNER_STYLES for the learners it knows; `dashed`
 * decides the rest (references: dashed).
 */
export const learnerScales = (series: ReadonlyArray<string>, dashed: (name: string) => boolean = () => false) => {
  // The known learners in LEARNER_STYLES' order (each model above the reference it implements), then the rest.
  const rank = (name: string) => {
    const i = LEARNER_STYLES.findIndex((s) => s.name === name)
    return i < 0 ? LEARNER_STYLES.length : i
  }
  const names = [...new Set(series)].map((name, i) => ({ name, i })).sort((a, b) => rank(a.name) - rank(b.name) || a.i - b.i).map((x) => x.name)
  let fallback = 0
  const styles = names.map((name) => {
    const known = LEARNER_STYLES.find((s) => s.name === name)
    return known ?? { name, color: FALLBACK_COLORS[fallback++ % FALLBACK_COLORS.length]!, dashed: dashed(name) }
  })
  return {
    color: { domain: names, range: styles.map((s) => s.color) },
    strokeDash: { domain: names, range: styles.map((s) => (s.dashed ? [6, 3] : [1, 0])) }
  }
}

export interface ShiftPoint {
  /** The configuration ("softmax SA vs CA-KGD"). */
  readonly panel: string
  /** The evaluation tasks ("inputs ×2"), in `order`. */
  readonly shift: string
  readonly order: number
  /** "trained model", "reference at extracted parameters", "reference at grid optimum". */
  readonly series: string
  readonly mean: number
  readonly lo: number
  readonly hi: number
}

export const SHIFT_SERIES = ["trained model", "reference at extracted parameters", "reference at grid optimum"] as const

/**
 * Loss of trained models and their references on shifted evaluation tasks (spec E9): points and intervals per shift,
 * on a log axis of its own per configuration (losses on shifted tasks span orders of magnitude). An interval's lower
 * end at or below 0 is drawn at the point.
 */
export const shiftFigure = (points: ReadonlyArray<ShiftPoint>, title: string, yTitle: string): TopLevelSpec => {
  const order = [...new Map([...points].sort((a, b) => a.order - b.order).map((p) => [p.shift, p.order])).keys()]
  const color = { field: "series", type: "nominal", title: null, scale: { domain: [...SHIFT_SERIES], range: ["#2c7fb8", "#d95f0e", "#7f7f7f"] } } as const
  const x = { field: "shift", type: "nominal", sort: order, title: "evaluation tasks", axis: { labelAngle: -35, labelLimit: 200 } } as const
  return {
    $schema: SCHEMA,
    title,
    data: { values: points.map((p) => (p.lo > 0 ? p : { ...p, lo: p.mean })) as Array<ShiftPoint> },
    facet: { column: { field: "panel", type: "nominal", title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: 340,
      height: 240,
      layer: [
        {
          mark: { type: "errorbar", ticks: true },
          encoding: { x, xOffset: { field: "series", sort: [...SHIFT_SERIES] }, y: { field: "lo", type: "quantitative", title: `${yTitle}; log`, scale: { type: "log" } }, y2: { field: "hi" }, color }
        },
        {
          mark: { type: "point", filled: true, size: 45 },
          encoding: {
            x,
            xOffset: { field: "series", sort: [...SHIFT_SERIES] },
            y: { field: "mean", type: "quantitative", scale: { type: "log" } },
            color,
            shape: { field: "series", type: "nominal", title: null, scale: { domain: [...SHIFT_SERIES], range: ["circle", "diamond", "square"] } },
            tooltip: [{ field: "panel" }, { field: "shift" }, { field: "series" }, { field: "mean", format: ".4f" }, { field: "lo", format: ".4f" }, { field: "hi", format: ".4f" }]
          }
        }
      ]
    },
    resolve: { scale: { y: "independent" } },
    ...FONT
  }
}

export interface AdaptabilityPoint {
  /** The context feature on the x axis ("context points of the query's class"). */
  readonly feature: string
  /** "p(correct class)" or "entropy (nats)". */
  readonly metric: string
  /** The learner ("softmax SA", "CA-KGD (extracted)", "CA-KGD*"). */
  readonly series: string
  readonly x: number
  readonly mean: number
  readonly lo: number
  readonly hi: number
  /** Contexts in the bin (of one run). */
  readonly contexts: number
}

/**
 * Binned confidence against what the context offers (spec E10): one row per metric, one column per context feature,
 * one line per learner with its interval; trained models solid, references at the extracted parameters dashed, at
 * the grid optimum dotted.
 */
/** How one series is drawn: its colour and its dash pattern. */
export interface SeriesLook {
  readonly series: string
  readonly color: string
  readonly dash: ReadonlyArray<number>
}

export const adaptabilityFigure = (points: ReadonlyArray<AdaptabilityPoint>, title: string, looks: ReadonlyArray<SeriesLook>): TopLevelSpec => {
  const series = looks.map((l) => l.series)
  const color = { field: "series", type: "nominal", title: "learner", scale: { domain: series, range: looks.map((l) => l.color) } } as const
  // The same field and title as the colour: one legend, with each series' colour and dash.
  const strokeDash = { field: "series", type: "nominal", title: "learner", scale: { domain: series, range: looks.map((l) => [...l.dash]) } } as const
  const metrics = [...new Set(points.map((p) => p.metric))]
  const features = [...new Set(points.map((p) => p.feature))]
  return {
    $schema: SCHEMA,
    title,
    data: { values: points as Array<AdaptabilityPoint> },
    // One panel per (metric, feature), each with its own axis titles: the metric with its unit, the feature.
    vconcat: metrics.map((metric) => ({
      hconcat: features.map((feature) => ({
        transform: [{ filter: { and: [{ field: "metric", equal: metric }, { field: "feature", equal: feature }] } }],
        width: 250,
        height: 180,
        layer: [
          {
            mark: { type: "area" as const, opacity: 0.15 },
            encoding: {
              x: { field: "x", type: "quantitative" as const, title: feature, scale: { zero: false } },
              y: { field: "lo", type: "quantitative" as const, title: metric },
              y2: { field: "hi" },
              color
            }
          },
          {
            mark: { type: "line" as const, point: { size: 14 } },
            encoding: {
              x: { field: "x", type: "quantitative" as const, scale: { zero: false } },
              y: { field: "mean", type: "quantitative" as const, scale: { zero: false } },
              color,
              strokeDash,
              tooltip: [{ field: "series" }, { field: "feature" }, { field: "x", format: ".3f" }, { field: "mean", format: ".4f" }, { field: "contexts" }]
            }
          }
        ]
      }))
    })),
    ...FONT
  }
}

export interface WeightCell {
  /** The configuration ("softmax SA, seed 0"). */
  readonly panel: string
  /** "W_KQ" or "W_PV". */
  readonly matrix: string
  /** Row and column labels: x1 … xd, then y1 … yC. */
  readonly row: string
  readonly column: string
  readonly value: number
}

/**
 * Heatmaps of the final W_KQ and W_PV (spec E1c): the blocks the GD construction reads (A ≈ aI in W_KQ's x-rows and
 * x-columns, B_yy ≈ bI in W_PV's y-rows and y-columns) against the rest. One row per configuration, each matrix on a
 * diverging colour scale of its own, centred at 0.
 */
export const weightsFigure = (cells: ReadonlyArray<WeightCell>, labels: ReadonlyArray<string>, title: string): TopLevelSpec => {
  const panels = [...new Set(cells.map((c) => c.panel))]
  const matrices = ["W_KQ", "W_PV"]
  return {
    $schema: SCHEMA,
    title,
    vconcat: panels.map((panel) => ({
      hconcat: matrices.map((matrix) => {
        const values = cells.filter((c) => c.panel === panel && c.matrix === matrix)
        const extent = Math.max(1e-12, ...values.map((c) => Math.abs(c.value)))
        return {
          title: { text: `${panel}: ${matrix}`, fontSize: 12 },
          width: 22 * labels.length,
          height: 22 * labels.length,
          data: { values: values as Array<WeightCell> },
          mark: { type: "rect" as const },
          encoding: {
            x: { field: "column", type: "nominal" as const, sort: [...labels], title: "column (input token entry)", axis: { labelAngle: 0 } },
            y: { field: "row", type: "nominal" as const, sort: [...labels], title: "row (output entry)" },
            color: {
              field: "value",
              type: "quantitative" as const,
              title: `${matrix} entry`,
              scale: { scheme: "redblue", domain: [-extent, extent], reverse: true }
            },
            tooltip: [{ field: "row" }, { field: "column" }, { field: "value", format: ".4f" }]
          }
        }
      }),
      resolve: { scale: { color: "independent" as const } }
    })),
    ...FONT
  }
}

export interface TrainingPoint {
  /** The configuration. */
  readonly panel: string
  /** "evaluation loss (nats)", "η", "c_σ", "b". */
  readonly quantity: string
  /** "trained model (seed 0)" lines, one per seed, and the grid optimum's levels. */
  readonly series: string
  readonly seed: string
  readonly x: number
  readonly y: number
}

/**
 * Through training (spec E1a, E1d): the evaluation loss with the grid-optimal reference's level, and the parameters
 * read off the weights (η, or c_σ and b) against their grid optima. Every seed is its own line: seeds in different
 * basins (c_σ > 0, c_σ < 0) are never averaged.
 */
export const trainingFigure = (
  points: ReadonlyArray<TrainingPoint>,
  quantities: ReadonlyArray<string>,
  title: string,
  /** Quantities whose values span orders of magnitude of either sign: a symlog y axis. */
  symlog: ReadonlyArray<string> = []
): TopLevelSpec => {
  const series = [...new Set(points.map((p) => p.series))]
  const reference = (s: string) => s !== "trained model"
  const palette = ["#2c7fb8", "#d95f0e", "#31a354", "#756bb1"]
  const panels = [...new Set(points.map((p) => p.panel))]
  const color = { field: "series", type: "nominal" as const, title: null, scale: { domain: series, range: series.map((_, i) => palette[i % palette.length]!) } }
  const strokeDash = { field: "series", type: "nominal" as const, title: null, scale: { domain: series, range: series.map((s) => (reference(s) ? [6, 3] : [1, 0])) } }
  return {
    $schema: SCHEMA,
    title,
    data: { values: points as Array<TrainingPoint> },
    // One row per configuration: its loss, then its parameters, each panel with its own y title (quantity and unit).
    vconcat: panels.map((panel) => ({
      title: { text: panel, anchor: "start" as const, fontSize: 12 },
      hconcat: quantities
        .filter((quantity) => points.some((p) => p.panel === panel && p.quantity === quantity))
        .map((quantity) => ({
          transform: [{ filter: { and: [{ field: "panel", equal: panel }, { field: "quantity", equal: quantity }] } }],
          width: 240,
          height: 140,
          mark: { type: "line" as const, strokeWidth: 1.5 },
          encoding: {
            x: {
              field: "x",
              type: "quantitative" as const,
              scale: { type: "symlog" as const },
              title: "training step",
              axis: { values: [0, 1, 10, 100, 1000, 10000, 100000], labelExpr: "datum.value >= 1000 ? datum.value / 1000 + 'k' : datum.value" }
            },
            y: {
              field: "y",
              type: "quantitative" as const,
              title: symlog.includes(quantity) ? `${quantity}; symlog` : quantity,
              scale: symlog.includes(quantity) ? { type: "symlog" as const } : { zero: false }
            },
            color,
            strokeDash,
            detail: { field: "seed", type: "nominal" as const },
            tooltip: [{ field: "panel" }, { field: "series" }, { field: "seed" }, { field: "x" }, { field: "y", format: ".4f" }]
          }
        })),
      resolve: { scale: { y: "independent" as const } }
    })),
    ...FONT
  }
}
