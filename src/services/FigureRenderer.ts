/**
 * Renders Vega-Lite specs in Node: SVG through vega's headless view, PNG from the SVG through resvg. The libraries are
 * loaded on first use, so commands that draw nothing do not pay for them.
 */
import { Effect } from "effect"
import type { TopLevelSpec } from "vega-lite"

export interface RenderedFigure {
  readonly svg: string
  readonly png: Uint8Array
}

export class FigureRenderer extends Effect.Service<FigureRenderer>()("icl-gd/FigureRenderer", {
  effect: Effect.gen(function* () {
    const libraries = yield* Effect.cached(
      Effect.promise(async () => {
        const [vega, vegaLite, resvg] = await Promise.all([import("vega"), import("vega-lite"), import("@resvg/resvg-js")])
        return { vega, vegaLite, resvg }
      })
    )
    const render = (spec: TopLevelSpec) =>
      Effect.gen(function* () {
        const { vega, vegaLite, resvg } = yield* libraries
        const compiled = vegaLite.compile(spec).spec
        const svg = yield* Effect.promise(() => new vega.View(vega.parse(compiled), { renderer: "none" }).toSVG())
        const png = new resvg.Resvg(svg, { font: { loadSystemFonts: true }, fitTo: { mode: "zoom", value: 2 }, background: "white" })
          .render()
          .asPng()
        return { svg, png: new Uint8Array(png) } satisfies RenderedFigure
      })
    return { render } as const
  })
}) {}
