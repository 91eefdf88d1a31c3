/**
 * One-dimensional searches that the reference fits share: log-spaced grids (one sign or both), golden-section
 * refinement of a bracketed minimum, and the index of the smallest finite value.
 */

/** Log-spaced values from min to max (count ≥ 1). */
export const logSpace = (min: number, max: number, count: number): Array<number> =>
  count === 1
    ? [min]
    : Array.from({ length: count }, (_, i) => Math.exp(Math.log(min) + ((Math.log(max) - Math.log(min)) * i) / (count - 1)))

/** The grid mirrored onto both signs, ascending: −max … −min, min … max. */
export const signedGrid = (min: number, max: number, count: number): Array<number> => {
  const positive = logSpace(min, max, count)
  return [...positive.map((v) => -v).reverse(), ...positive]
}

const GOLDEN = (Math.sqrt(5) - 1) / 2

/** Golden-section search for a minimum of f on [lo, hi]; `iterations` shrinks the bracket by 0.618^iterations. */
export const goldenSection = (
  f: (x: number) => number,
  lo: number,
  hi: number,
  iterations = 40
): { readonly x: number; readonly value: number } => {
  let a = lo
  let b = hi
  let x1 = b - GOLDEN * (b - a)
  let x2 = a + GOLDEN * (b - a)
  let f1 = f(x1)
  let f2 = f(x2)
  for (let i = 0; i < iterations; i++) {
    if (f1 <= f2) {
      b = x2
      x2 = x1
      f2 = f1
      x1 = b - GOLDEN * (b - a)
      f1 = f(x1)
    } else {
      a = x1
      x1 = x2
      f1 = f2
      x2 = a + GOLDEN * (b - a)
      f2 = f(x2)
    }
  }
  return f1 <= f2 ? { x: x1, value: f1 } : { x: x2, value: f2 }
}

/** Index of the smallest finite value (NaN and ±∞ never win). */
export const argMin = (values: ReadonlyArray<number>): number => {
  let best = -1
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (Number.isFinite(v) && (best < 0 || v < values[best]!)) best = i
  }
  return best
}
