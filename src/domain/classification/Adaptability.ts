/**
 * "Adaptability to context" (spec §6 E10): a predictor's per-context confidence (p(correct class), entropy) binned
 * against what the context offers its query (ContextFeatures: same-class count, mean similarity, effective step).
 * The claim under test: softmax attention's confidence follows the context through its adaptive step
 * η(x_q) = c_η / Σ_j k_j, linear attention's does not.
 */
import { pearson } from "./Metrics.js"
import { type Estimate, meanAndSe } from "../Results.js"

export interface Bins {
  /** The bin of each context [N], 0 … count − 1 in increasing order of the feature. */
  readonly of: Int32Array
  readonly count: number
}

/**
 * Quantile bins: contexts sorted by the feature and cut into `bins` runs of about N/bins, a run extended over every
 * context that ties with its last one (so an integer feature such as a count never splits one value over two bins).
 * Fewer bins come out when ties are wide.
 */
export const quantileBins = (feature: ArrayLike<number>, bins: number): Bins => {
  const N = feature.length
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => feature[a]! - feature[b]! || a - b)
  const of = new Int32Array(N)
  let bin = 0
  let start = 0
  while (start < N) {
    let end = Math.min(N, Math.max(start + 1, Math.round(((bin + 1) * N) / bins)))
    while (end < N && feature[order[end]!] === feature[order[end - 1]!]) end++
    for (let k = start; k < end; k++) of[order[k]!] = bin
    bin++
    start = end
  }
  return { of, count: bin }
}

export interface BinnedValue {
  readonly bin: number
  /** Mean of the feature over the bin's contexts. */
  readonly x: number
  /** Mean and SE over the bin's contexts of the value. */
  readonly value: Estimate
  readonly contexts: number
}

/** The mean feature and the mean value (with its SE over contexts) in each bin. */
export const binnedMeans = (feature: ArrayLike<number>, values: ArrayLike<number>, bins: Bins): Array<BinnedValue> =>
  Array.from({ length: bins.count }, (_, bin) => {
    const xs: Array<number> = []
    const vs: Array<number> = []
    for (let t = 0; t < bins.of.length; t++) {
      if (bins.of[t] === bin) {
        xs.push(feature[t]!)
        vs.push(values[t]!)
      }
    }
    return { bin, x: xs.reduce((s, v) => s + v, 0) / xs.length, value: meanAndSe(vs), contexts: xs.length }
  })

/** How strongly a value follows a feature over contexts: Pearson's r, and the change from the lowest to the highest bin. */
export interface Following {
  readonly correlation: number
  readonly lowest: number
  readonly highest: number
}

export const following = (feature: ArrayLike<number>, values: ArrayLike<number>, bins: Bins): Following => {
  const binned = binnedMeans(feature, values, bins)
  return { correlation: pearson(feature, values), lowest: binned[0]!.value.mean, highest: binned[binned.length - 1]!.value.mean }
}
