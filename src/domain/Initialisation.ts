/**
 * Initial weights: `count` draws into out[offset…] from the distribution the config names, each with standard
 * deviation `scale`, from a keyed stream (so a run's initial weights are a function of its seed):
 *   normal:            s · z,  z ~ N(0, 1)                     (the same draws as `count` calls of Rng.normal)
 *   uniform:           s · √3 · (2u − 1),  u ~ U[0, 1)          (uniform on [−√3 s, √3 s))
 *   truncated-normal:  s · z / σ₂,  z ~ N(0, 1) redrawn until |z| ≤ 2, σ₂ = 0.8796… its standard deviation
 *                      (Haiku's and Flax's truncated normal, rescaled to standard deviation s)
 * A kind with initialisations of its own (structured ones, e.g. at a GD construction) handles them before calling this.
 */
import type { InitDistribution } from "./ConfigSchema.js"
import type { Rng } from "./Rng.js"

/** The standard deviation of N(0, 1) truncated to [−2, 2]: √(1 − 4φ(2) / (2Φ(2) − 1)). */
export const TRUNCATED_NORMAL_STD = 0.8796256610342398

const SQRT3 = Math.sqrt(3)

export const fillInitial = (
  rng: Rng,
  out: Float64Array,
  offset: number,
  count: number,
  scale: number,
  distribution: InitDistribution
): void => {
  switch (distribution) {
    case "normal":
      rng.fillNormals(out, offset, count)
      for (let i = offset; i < offset + count; i++) out[i] = scale * out[i]!
      return
    case "uniform":
      for (let i = offset; i < offset + count; i++) out[i] = scale * SQRT3 * (2 * rng.uniform() - 1)
      return
    case "truncated-normal":
      for (let i = offset; i < offset + count; i++) {
        let z = rng.normal()
        while (Math.abs(z) > 2) z = rng.normal()
        out[i] = (scale * z) / TRUNCATED_NORMAL_STD
      }
      return
  }
}
