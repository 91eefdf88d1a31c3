/**
 * Grid-optimal parameters of a GD reference on the grid-search set (spec §4.4), over both signs of c_σ and of the
 * step θ, with a local refinement in each sign basin of c_σ: c_σ > 0 is the selection basin
 * (attend to similar points, add their labels) and c_σ < 0 the elimination basin (attend to dissimilar points,
 * subtract their labels).
 */
import type { ReferencesConfig } from "./Config.js"
import {
  argMin,
  goldenSection,
  logSpace,
  meanCrossEntropy,
  minimizeScale,
  queryDots,
  referenceFeatures,
  type ReferenceShape,
  signedGrid
} from "./GdMath.js"
import type { TaskBatch } from "./Task.js"

export interface GridPoint {
  readonly cSigma: number
  readonly scale: number
  readonly loss: number
}

export interface GridResult {
  readonly kind: ReferenceShape["kind"]
  /** The optimum over both basins. */
  readonly best: GridPoint
  /** Kernel references only: the optimum with c_σ > 0. */
  readonly selection: GridPoint | null
  /** Kernel references only: the optimum with c_σ < 0. */
  readonly elimination: GridPoint | null
  /** Mean CE on the landscape tasks: loss[i][j] at cSigma[i], scale[j] (one row for gd-linear: no c_σ). */
  readonly landscape: {
    readonly cSigma: ReadonlyArray<number>
    readonly scale: ReadonlyArray<number>
    readonly loss: ReadonlyArray<ReadonlyArray<number>>
  }
}

const better = (a: GridPoint | null, b: GridPoint | null): GridPoint | null =>
  a === null ? b : b === null ? a : b.loss < a.loss ? b : a

/** The first `size` tasks of a batch, sharing its buffers. */
const headOf = (batch: TaskBatch, size: number): TaskBatch => {
  if (size >= batch.size) return batch
  const { n, d } = batch
  return {
    ...batch,
    size,
    x: batch.x.subarray(0, size * n * d),
    labels: batch.labels.subarray(0, size * n),
    query: batch.query.subarray(0, size * d),
    queryLabel: batch.queryLabel.subarray(0, size)
  }
}

/**
 * Grid search with an exact inner step: for each c_σ on the signed grid the CE-optimal θ is found by Newton's method
 * (CE is convex in θ), so θ needs no grid; c_σ is then refined by golden section in each basin. The landscape over the
 * (c_σ, θ) grid, for figures, is computed on the first `landscapeSize` tasks.
 */
export const gridSearch = (shape: ReferenceShape, batch: TaskBatch, ranges: ReferencesConfig): GridResult => {
  const labels = batch.queryLabel
  const C = batch.C
  const scaleGrid = signedGrid(ranges.scale.min, ranges.scale.max, ranges.scale.count)
  const landscapeSet = headOf(batch, ranges.landscapeSize)
  const dots = queryDots(batch)
  const landscapeDots = dots.subarray(0, landscapeSet.size * batch.n)
  const landscapeRow = (cSigma: number) => {
    const { features } = referenceFeatures(shape, cSigma, landscapeSet, false, landscapeDots)
    return scaleGrid.map((scale) => meanCrossEntropy(features, scale, landscapeSet.queryLabel, C))
  }
  const profile = (cSigma: number): GridPoint => {
    const { features } = referenceFeatures(shape, cSigma, batch, false, dots)
    const best = minimizeScale(features, labels, C)
    return { cSigma, scale: best.scale, loss: best.loss }
  }

  if (shape.kind === "gd-linear") {
    return {
      kind: shape.kind,
      best: profile(0),
      selection: null,
      elimination: null,
      landscape: { cSigma: [0], scale: scaleGrid, loss: [landscapeRow(0)] }
    }
  }

  const magnitudes = logSpace(ranges.cSigma.min, ranges.cSigma.max, ranges.cSigma.count)
  const cSigmaGrid = signedGrid(ranges.cSigma.min, ranges.cSigma.max, ranges.cSigma.count)
  const basin = (sign: 1 | -1): GridPoint | null => {
    const profiles = magnitudes.map((magnitude) => profile(sign * magnitude))
    const bestIndex = argMin(profiles.map((p) => p.loss))
    if (bestIndex < 0) return null
    const best = profiles[bestIndex]!
    if (!ranges.refine || magnitudes.length < 2) return best
    // Refine |c_σ| in log space between the neighbours of the best grid point.
    const lo = Math.log(magnitudes[Math.max(0, bestIndex - 1)]!)
    const hi = Math.log(magnitudes[Math.min(magnitudes.length - 1, bestIndex + 1)]!)
    const found = goldenSection((logMagnitude) => profile(sign * Math.exp(logMagnitude)).loss, lo, hi, 24)
    const refined = profile(sign * Math.exp(found.x))
    return refined.loss < best.loss ? refined : best
  }
  const selection = basin(1)
  const elimination = basin(-1)
  const best = better(selection, elimination)
  return {
    kind: shape.kind,
    best: best ?? { cSigma: Number.NaN, scale: Number.NaN, loss: Number.NaN },
    selection,
    elimination,
    landscape: { cSigma: cSigmaGrid, scale: scaleGrid, loss: cSigmaGrid.map(landscapeRow) }
  }
}
