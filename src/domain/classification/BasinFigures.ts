/**
 * Vega-Lite specs of the basin study's figures (domain/classification/Basins): the fraction of seeds in the selection
 * basin per training setting, the initial weights' statistics coloured by the basin reached, and how well the sign of
 * c_σ at step k predicts the final basin.
 */
import type { TopLevelSpec } from "vega-lite"
import { FONT, SCHEMA } from "../Figures.js"

export interface BasinFraction {
  /** The training (or task) setting, as labelled in the report's tables. */
  readonly setting: string
  readonly fraction: number
  readonly lower: number
  readonly upper: number
  readonly seeds: number
}

/** Fraction of seeds in the selection basin per setting, with its 95% interval (Wilson), one row per setting. */
export const basinsFigure = (points: ReadonlyArray<BasinFraction>, title: string): TopLevelSpec => {
  const order = points.map((p) => p.setting)
  const y = { field: "setting", type: "nominal" as const, title: null, sort: order, axis: { labelLimit: 360 } }
  return {
    $schema: SCHEMA,
    title,
    data: { values: points.map((p) => ({ ...p, label: `${Math.round(p.fraction * p.seeds)}/${p.seeds}` })) },
    width: 320,
    height: { step: 22 },
    layer: [
      {
        mark: { type: "rule", color: "#999", strokeDash: [3, 3] },
        encoding: { x: { datum: 0.5, type: "quantitative" } }
      },
      {
        mark: { type: "rule", strokeWidth: 2, color: "#1f77b4" },
        encoding: {
          y,
          x: { field: "lower", type: "quantitative", scale: { domain: [0, 1] }, title: "fraction of seeds in the selection basin (c_σ > 0), 95% Wilson interval" },
          x2: { field: "upper" }
        }
      },
      {
        mark: { type: "point", filled: true, size: 60, color: "#1f77b4" },
        encoding: { y, x: { field: "fraction", type: "quantitative" } }
      },
      {
        mark: { type: "text", align: "left", dx: 6, dy: -8, fontSize: 10, color: "#444" },
        encoding: { y, x: { field: "fraction", type: "quantitative" }, text: { field: "label" } }
      }
    ],
    ...FONT
  }
}

export interface InitialPoint {
  readonly a: number
  readonly b: number
  readonly basin: string
}

/** The initial a = tr(A)/d and b of every seed, coloured by the basin it reached, with axes at 0. */
export const initialWeightsFigure = (points: ReadonlyArray<InitialPoint>, title: string, scaleLabel: string): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  width: 300,
  height: 300,
  layer: [
    { data: { values: [{ v: 0 }] }, mark: { type: "rule", color: "#999" }, encoding: { x: { field: "v", type: "quantitative" } } },
    { data: { values: [{ v: 0 }] }, mark: { type: "rule", color: "#999" }, encoding: { y: { field: "v", type: "quantitative" } } },
    {
      data: { values: points as Array<InitialPoint> },
      mark: { type: "point", filled: true, size: 40, opacity: 0.8 },
      encoding: {
        x: { field: "a", type: "quantitative", title: `initial a = tr(A)/d ${scaleLabel}` },
        y: { field: "b", type: "quantitative", title: `initial b ${scaleLabel}` },
        color: { field: "basin", type: "nominal", title: "final basin", scale: { domain: ["selection", "elimination"], range: ["#1f77b4", "#d62728"] } },
        shape: { field: "basin", type: "nominal" }
      }
    }
  ],
  ...FONT
})

export interface AgreementPoint {
  readonly setting: string
  readonly step: number
  readonly agreement: number
  readonly lower: number
  readonly upper: number
}

/**
 * The fraction of runs whose sign of c_σ at step k is their final basin's, against k, with 95% Wilson bands; settings
 * in the legend in the order given.
 */
export const decisionFigure = (points: ReadonlyArray<AgreementPoint>, title: string): TopLevelSpec => ({
  $schema: SCHEMA,
  title,
  data: { values: points as Array<AgreementPoint> },
  width: 380,
  height: 220,
  layer: [
    {
      mark: { type: "area", opacity: 0.2 },
      encoding: {
        x: {
          field: "step",
          type: "quantitative",
          scale: { type: "symlog" },
          title: "training step k",
          axis: { values: [0, 1, 10, 100, 1000, 10000], labelExpr: "datum.value >= 1000 ? datum.value / 1000 + 'k' : datum.value" }
        },
        y: { field: "lower", type: "quantitative", scale: { domain: [0, 1] }, title: "sign of c_σ at k = final basin (fraction of runs)" },
        y2: { field: "upper" },
        color: { field: "setting", type: "nominal", title: null, sort: [...new Set(points.map((p) => p.setting))] }
      }
    },
    {
      mark: { type: "line", point: { size: 14 } },
      encoding: {
        x: { field: "step", type: "quantitative", scale: { type: "symlog" } },
        y: { field: "agreement", type: "quantitative" },
        color: { field: "setting", type: "nominal", sort: [...new Set(points.map((p) => p.setting))] }
      }
    }
  ],
  ...FONT
})
