/**
 * Vega-Lite specs of the classification report's own figures: example contexts (Figure 2) and the CA-KGD loss
 * landscape over (c_σ, b) with the learned parameters through training.
 */
import type { TopLevelSpec } from "vega-lite"
import { FONT, SCHEMA } from "../Figures.js"

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
