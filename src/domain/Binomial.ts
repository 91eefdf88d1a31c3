/**
 * Confidence intervals for a proportion (k successes in n trials).
 *
 * Wilson's score interval (Wilson 1927; Newcombe 1998, method 3), without continuity correction:
 *   centre = (k + z²/2) / (n + z²),   half-width = z √(k(n − k)/n + z²/4) / (n + z²)
 * It stays inside [0, 1], is not degenerate at k = 0 or k = n, and covers close to its nominal level already for small
 * n, unlike the Wald interval p̂ ± z √(p̂(1 − p̂)/n).
 */

/** The two-sided 95% normal quantile Φ⁻¹(0.975). */
export const Z95 = 1.959963984540054

export interface Proportion {
  readonly successes: number
  readonly trials: number
  /** k / n; NaN for n = 0. */
  readonly estimate: number
  readonly lower: number
  readonly upper: number
}

/** k/n with its Wilson score interval at quantile z (95% by default); [0, 1] with no trials. */
export const wilsonInterval = (successes: number, trials: number, z = Z95): Proportion => {
  if (trials === 0) return { successes, trials, estimate: Number.NaN, lower: 0, upper: 1 }
  const z2 = z * z
  const denominator = trials + z2
  const centre = (successes + z2 / 2) / denominator
  const half = (z * Math.sqrt((successes * (trials - successes)) / trials + z2 / 4)) / denominator
  return {
    successes,
    trials,
    estimate: successes / trials,
    lower: Math.max(0, centre - half),
    upper: Math.min(1, centre + half)
  }
}

/** "7/24 = 0.29 [0.15, 0.49]". */
export const formatProportion = (p: Proportion, digits = 2): string =>
  `${p.successes}/${p.trials} = ${Number.isFinite(p.estimate) ? p.estimate.toFixed(digits) : "—"} [${p.lower.toFixed(digits)}, ${p.upper.toFixed(digits)}]`
