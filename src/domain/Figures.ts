/**
 * Vega-Lite specs of the report's figures, built from plain data (no I/O, no rendering). Each spec is saved next to its
 * rendering so that a user can restyle it.
 */
import type { TopLevelSpec } from "vega-lite"
import { meanInterval } from "./Results.js"

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
const FONT = {
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

/** The mean over seeds and its 95% band (a single value gets a band of zero width). */
export const band = (values: ReadonlyArray<number>): Pick<BandPoint, "mean" | "lo" | "hi"> => {
  const m = meanInterval(values)
  const half = Number.isFinite(m.halfWidth) ? m.halfWidth : 0
  return { mean: m.mean, lo: m.mean - half, hi: m.mean + half }
}

/** Alignment metrics through training (Figures 4a, 5a): mean line and a band over seeds. */
export const alignmentFigure = (points: ReadonlyArray<BandPoint & { readonly metric: string }>, title: string): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  data: { values: points as Array<BandPoint & { metric: string }> },
  // One row per configuration, one column per metric: sweeps with many configurations grow down, not across.
  facet: {
    row: { field: "panel", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left", labelLimit: 220 } },
    column: { field: "metric", type: "nominal", title: null }
  },
  spec: {
    width: 260,
    height: 120,
    layer: [
      {
        mark: { type: "area", opacity: 0.25 },
        encoding: {
          x: {
            field: "x",
            type: "quantitative",
            scale: { type: "symlog" },
            title: "training step",
            axis: {
              values: [0, 1, 10, 100, 1000, 10000, 100000],
              labelExpr: "datum.value >= 1000 ? datum.value / 1000 + 'k' : datum.value"
            }
          },
          y: { field: "lo", type: "quantitative", title: null },
          y2: { field: "hi" },
          color: { field: "series", type: "nominal", title: "against" }
        }
      },
      {
        mark: { type: "line", point: { size: 12 } },
        encoding: {
          x: { field: "x", type: "quantitative", scale: { type: "symlog" } },
          y: { field: "mean", type: "quantitative", scale: { zero: false } },
          color: { field: "series", type: "nominal" }
        }
      }
    ]
  },
  resolve: { scale: { y: "independent" } },
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
            x: { field: "reference", type: "quantitative", title: referenceLabel, scale: { domain: [lo, hi] } },
            y: { field: "model", type: "quantitative", title: "trained model", scale: { domain: [lo, hi] } }
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

export interface ContextPanel {
  readonly view: string
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
          x: { field: "u", type: "quantitative", scale: { domain: [-1.1, 1.1] }, title: null },
          y: { field: "v", type: "quantitative", scale: { domain: [-1.1, 1.1] }, title: null },
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

/** The CA-KGD loss landscape over (c_σ, b) with the learned parameters through training overlaid. */
export const landscapeFigure = (
  cells: ReadonlyArray<LandscapeCell>,
  trajectories: ReadonlyArray<TrajectoryPoint>,
  title: string,
  clip: number
): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  width: 460,
  height: 360,
  layer: [
    {
      data: { values: cells as Array<LandscapeCell> },
      mark: { type: "rect" },
      encoding: {
        x: { field: "x0", type: "quantitative", scale: { type: "symlog", constant: 0.1 }, title: "c_σ (kernel inverse width)" },
        x2: { field: "x1" },
        y: { field: "y0", type: "quantitative", scale: { type: "symlog", constant: 0.01 }, title: "b = c_η / n (step)" },
        y2: { field: "y1" },
        color: {
          field: "loss",
          type: "quantitative",
          title: "mean CE",
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
    }
  ],
  ...FONT
})

/** Mean ± 95% CI of some quantity along an axis, one line per series (final loss, learned c_σ, context length). */
export const seriesFigure = (
  points: ReadonlyArray<BandPoint>,
  title: string,
  xTitle: string,
  yTitle: string,
  logX: boolean
): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  data: { values: points as Array<BandPoint> },
  facet: { column: { field: "panel", type: "nominal", title: null } },
  spec: {
    width: 300,
    height: 220,
    layer: [
      {
        mark: { type: "errorbar", ticks: true },
        encoding: {
          x: { field: "x", type: "quantitative", scale: logX ? { type: "log", nice: false } : { zero: false, nice: false }, title: xTitle },
          y: { field: "lo", type: "quantitative", title: yTitle },
          y2: { field: "hi" },
          color: { field: "series", type: "nominal", title: null }
        }
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "mean", type: "quantitative", scale: { zero: false } },
          color: { field: "series", type: "nominal" }
        }
      }
    ]
  },
  ...FONT
})
