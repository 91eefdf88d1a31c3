/**
 * Grid-optimal parameters of a GD reference on the grid-search set (spec §4.4), over both signs of c_σ and of the
 * step θ, with a local refinement in each sign basin of c_σ: c_σ > 0 is the selection basin
 * (attend to similar points, add their labels) and c_σ < 0 the elimination basin (attend to dissimilar points,
 * subtract their labels).
 */
import type { ReferencesConfig } from "./Config.js"
import { argMin, goldenSection, logSpace, signedGrid } from "../Search.js"
import { minimizeObjective, queryDots, referenceFeatures, type ReferenceShape, scaleObjective, type ScaleObjective, widthFree } from "./GdMath.js"
import { simdReference, simdSearch } from "./SimdKernel.js"
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
  /** Mean CE on the scanned tasks: loss[i][j] at cSigma[i], scale[j] (one row for gd-linear and ca-gd-linear: no c_σ). */
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
 * A grid search's hot loops over one set: the features of its first `count` tasks at a c_σ, and the objective (mean
 * CE and its θ-derivatives) over them. An objective is valid until the next call.
 */
export interface SearchKernel {
  readonly objective: (cSigma: number, count: number) => ScaleObjective
}

/** The search's loops in JavaScript (GdMath). */
const javaScriptSearch = (shape: ReferenceShape, batch: TaskBatch, dots: Float64Array): SearchKernel => ({
  objective: (cSigma, count) => {
    const set = headOf(batch, count)
    const { features } = referenceFeatures(shape, cSigma, set, false, dots.subarray(0, set.size * batch.n))
    return scaleObjective(features, set.queryLabel, batch.C)
  }
})

/**
 * Grid search with an exact inner step: for each c_σ the CE-optimal step θ is found by Newton's method (CE is convex
 * in θ), so θ needs no grid. The c_σ grid is scanned on the first `scanSize` tasks; around the best scanned point of
 * each sign basin, c_σ is refined by golden section on the whole grid-search set. The landscape over the (c_σ, θ) grid,
 * for figures, is computed on the scanned tasks. With `simd` (the compiled SIMD kernel), the features and objectives
 * of the references a model matches (gd-linear, kgd-fixed, ca-kgd) are computed in WebAssembly, bit for bit as in
 * JavaScript.
 */
export const gridSearch = (shape: ReferenceShape, batch: TaskBatch, ranges: ReferencesConfig, simd?: WebAssembly.Module): GridResult => {
  const scaleGrid = signedGrid(ranges.scale.min, ranges.scale.max, ranges.scale.count)
  const scanSize = Math.min(ranges.scanSize, batch.size)
  const dots = queryDots(batch)
  const kernel = simd !== undefined && simdReference(shape.kind) ? simdSearch(simd, shape, batch, dots) : javaScriptSearch(shape, batch, dots)
  const profileFull = (cSigma: number, start = 0): GridPoint => {
    const best = minimizeObjective(kernel.objective(cSigma, batch.size), start)
    return { cSigma, scale: best.scale, loss: best.loss }
  }
  // The landscape's rows lie on the scanned c_σ: each is computed with the scan's features of its c_σ.
  const landscapeRows = new Map<number, Array<number>>()
  const profileScan = (cSigma: number): GridPoint => {
    const objective = kernel.objective(cSigma, scanSize)
    const best = minimizeObjective(objective)
    landscapeRows.set(cSigma, scaleGrid.map((scale) => objective.loss(scale)))
    return { cSigma, scale: best.scale, loss: best.loss }
  }
  const landscapeRow = (cSigma: number) => {
    const stored = landscapeRows.get(cSigma)
    if (stored !== undefined) return stored
    const objective = kernel.objective(cSigma, scanSize)
    return scaleGrid.map((scale) => objective.loss(scale))
  }

  if (widthFree(shape.kind)) {
    return {
      kind: shape.kind,
      best: profileFull(0),
      selection: null,
      elimination: null,
      landscape: { cSigma: [0], scale: scaleGrid, loss: [landscapeRow(0)] }
    }
  }

  const magnitudes = logSpace(ranges.cSigma.min, ranges.cSigma.max, ranges.cSigma.count)
  const cSigmaGrid = signedGrid(ranges.cSigma.min, ranges.cSigma.max, ranges.cSigma.count)
  const basin = (sign: 1 | -1): GridPoint | null => {
    const scanned = magnitudes.map((magnitude) => profileScan(sign * magnitude))
    const bestIndex = argMin(scanned.map((p) => p.loss))
    if (bestIndex < 0) return null
    const atGridPoint = profileFull(sign * magnitudes[bestIndex]!, scanned[bestIndex]!.scale)
    if (!ranges.refine || magnitudes.length < 2) return atGridPoint
    // Two grid points either side leave room for the scanned optimum to sit a point away from the full set's.
    const lo = Math.log(magnitudes[Math.max(0, bestIndex - 2)]!)
    const hi = Math.log(magnitudes[Math.min(magnitudes.length - 1, bestIndex + 2)]!)
    let warm = atGridPoint.scale
    const found = goldenSection(
      (logMagnitude) => {
        const point = profileFull(sign * Math.exp(logMagnitude), warm)
        if (Number.isFinite(point.scale)) warm = point.scale
        return point.loss
      },
      lo,
      hi,
      // 0.618^16 ≈ 5e-4 of a four-point bracket: far below the resolution at which CE changes.
      16
    )
    const refined = profileFull(sign * Math.exp(found.x), warm)
    return refined.loss < atGridPoint.loss ? refined : atGridPoint
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
