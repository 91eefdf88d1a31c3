import { assert, describe, it } from "@effect/vitest"
import { type BandPoint, seriesFigure } from "../../../src/domain/Figures.js"
import { endLabels, landscapeFigure, learnerScales, type TrajectoryPoint } from "../../../src/domain/classification/Figures.js"
import { settingLabels } from "../../../src/programs/classification/BasinReport.js"
import { finalLossAxis } from "../../../src/programs/classification/Report.js"

const end = (seed: number, cSigma: number, scale: number): TrajectoryPoint => ({ run: `seed ${seed}`, step: 4000, cSigma, scale, last: true })
/** The landscape's extent in the stored settings sweeps: c_σ and b from −1000 to 1000 on symlog axes. */
const extent = { cSigma: [-1000, 1000], scale: [-1000, 1000] } as const

describe("figures people can read", () => {
  it("end labels of the landscape: ends closer than a line of text share one label of several lines; distant ends keep their own", () => {
    // Three seeds of one setting end within a few pixels of each other (settings-d, d = 20); a fourth far away.
    const ends = [end(0, 14.76, 17.59), end(1, 14.8, 17.52), end(2, 14.78, 17.54), end(3, -7.4, -40)]
    const labels = endLabels(ends, extent)
    assert.strictEqual(labels.length, 2)
    const [near, far] = labels
    assert.deepStrictEqual(near!.label.split("\n"), ["seed 0: (14.8, 17.59)", "seed 2: (14.8, 17.54)", "seed 1: (14.8, 17.52)"])
    assert.strictEqual(near!.scale, 17.59, "placed at the highest of its ends, its lines running down")
    assert.strictEqual(far!.label, "seed 3: (-7.4, -40.00)")
    // Without the plot's extent only ends equal to the label's precision share a line (the old behaviour).
    assert.strictEqual(endLabels(ends).length, 4)
    assert.strictEqual(endLabels([end(0, 14.76, 17.591), end(4, 14.8, 17.589)])[0]!.label, "seeds 0, 4: (14.8, 17.59)")
    // The figure draws the multi-line labels with the same line break.
    const spec = landscapeFigure([{ x0: -1000, x1: 1000, y0: -1000, y1: 1000, loss: 1 }], ends, "t", 1) as any
    assert.strictEqual(spec.layer[3].mark.lineBreak, "\n")
    assert.strictEqual(spec.layer[3].data.values.length, 2)
  })

  it("basin settings are labelled by their axis values for every attention kind (a sweep over C × attention has no 'base')", () => {
    const settings = [2, 3, 5].flatMap((C) => ["exp", "softmax"].map((attention) => ({ "task.C": C, "model.attention": attention })))
    assert.deepStrictEqual(settingLabels(settings), ["C=2", "C=2", "C=3", "C=3", "C=5", "C=5"])
    // A one-factor-at-a-time study still names only what differs from the most common value.
    const cases = [{ "training.learningRate": 0.01, "model.initScale": 0.02 }, { "training.learningRate": 0.003, "model.initScale": 0.02 }, { "training.learningRate": 0.01, "model.initScale": 0.2 }]
    assert.deepStrictEqual(settingLabels(cases), ["base", "learningRate=0.003", "initScale=0.2"])
  })

  it("a series figure: one panel has no placeholder header; with dashes the legend draws lines; learners listed model above its reference", () => {
    const point = (panel: string, series: string, x: number): BandPoint => ({ panel, series, x, mean: 1, lo: 0.9, hi: 1.1 })
    const series = ["linear SA", "GD-lin*", "KGD-fixed*", "CA-KGD*", "CA-GD-lin*", "exp SA", "softmax SA"]
    const style = learnerScales(series, (name) => name.endsWith("*"))
    assert.deepStrictEqual(style.color.domain, ["linear SA", "GD-lin*", "exp SA", "KGD-fixed*", "softmax SA", "CA-KGD*", "CA-GD-lin*"])
    assert.deepStrictEqual(style.strokeDash.range, [[1, 0], [6, 3], [1, 0], [6, 3], [1, 0], [6, 3], [6, 3]])
    const one = seriesFigure(series.map((s) => point("all", s, 1)), "t", "x", "y", false, style) as any
    assert.deepStrictEqual(one.facet.column.header, { labels: false })
    assert.strictEqual(one.spec.layer[1].encoding.color.legend.symbolType, "stroke")
    const two = seriesFigure([point("n=8", "linear SA", 1), point("n=16", "linear SA", 1)], "t", "x", "y", false, style) as any
    assert.isUndefined(two.facet.column.header, "several panels keep their headers")
    const plain = seriesFigure([point("a", "s", 1)], "t", "x", "y", false) as any
    assert.isUndefined(plain.spec.layer[1].encoding.color.legend, "without dashes the legend keeps its default symbols")
    assert.deepStrictEqual(plain.spec.layer[1].encoding.y.scale, { zero: false })
    const log = seriesFigure([point("a", "s", 1)], "t", "x", "y", false, { logYFrom: 0.001 }) as any
    for (const layer of log.spec.layer) assert.deepStrictEqual(layer.encoding.y.scale, { type: "log", domainMin: 0.001, clamp: true })
    // c_σ along ε: the selection optimum at 1000 (ε = 0), learned values near 15, the elimination optimum near −20.
    const cSigma = [point("all", "grid optimum, selection", 0), point("all", "learned, selection seeds", 0), point("all", "grid optimum, elimination", 0)].map((p, i) => ({ ...p, mean: [1000, 15, -20][i]!, lo: [1000, 14, -21][i]!, hi: [1000, 16, -19][i]! }))
    const symlog = seriesFigure(cSigma, "t", "x", "c_σ", false, { symlogY: 1 }) as any
    for (const layer of symlog.spec.layer) assert.deepStrictEqual(layer.encoding.y.scale, { type: "symlog", constant: 1 })
    assert.deepStrictEqual(symlog.spec.layer[0].encoding.y.axis.values, [-10, -1, 0, 1, 10, 100, 1000])
  })

  it("final losses spanning orders of magnitude get a log axis from the power of ten below the smallest drawn; a near-zero reference does not set it", () => {
    const at = (series: string, x: number, mean: number): BandPoint => ({ panel: "all", series, x, mean, lo: mean, hi: mean })
    // The settings-d sweep: trained models from 0.82 (d = 2) to 0.0032 (d = 20), references down to 4.6e-5.
    const d = [at("linear SA", 2, 0.8215), at("softmax SA", 2, 0.7534), at("linear SA", 20, 0.0185), at("softmax SA", 20, 0.0032), at("KGD-fixed*", 20, 4.6e-5)]
    assert.deepInclude(finalLossAxis(d), { logYFrom: 1e-5 })
    // The settings-noise sweep: CA-KGD* at ε = 0 is 8.4e-10, more than 100 times below every trained model.
    const noise = [at("linear SA", 1, 0.7115), at("softmax SA", 0, 0.0186), at("CA-KGD*", 0, 8.4e-10), at("CA-KGD*", 0.25, 0.0079)]
    assert.deepInclude(finalLossAxis(noise), { logYFrom: 0.001 })
    // Trained models within a factor 20 of each other keep the linear axis.
    assert.isUndefined(finalLossAxis([at("linear SA", 8, 1.2), at("softmax SA", 8, 0.1), at("CA-KGD*", 8, 1e-6)]).logYFrom)
  })
})
