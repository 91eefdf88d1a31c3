/**
 * Gaussian processes with dot-product kernels k(u, v) = κ(u·v): drawing function values at given points, and the
 * posterior mean (the Bayes-optimal prediction under squared loss) with its gradient in the query input.
 *
 * The "relu" kernel is the arc-cosine kernel of degree 1 (Cho & Saul 2009), the covariance of a wide layer of random
 * ReLU units: κ(t) = (sin θ + (π − θ) cos θ)/π with θ = arccos t, for unit inputs. relu(u·v) itself cannot serve: it is
 * not positive semi-definite (its Legendre expansion has negative coefficients), so no Gaussian process has it as
 * covariance. The linear kernel has rank d, so the factorisation is a Cholesky decomposition that drops pivots that are
 * zero up to rounding; the posterior mean conditions on the kept points, which determine the rest.
 */
import type { FunctionKernel } from "./Config.js"

/** κ(t) of a kernel k(u, v) = κ(u·v). */
export const kernelValue = (kernel: FunctionKernel, bandwidth: number, t: number): number => {
  switch (kernel) {
    case "linear":
      return t
    case "relu":
      return arcCosine(t)
    case "exp":
      return Math.exp(t / bandwidth)
    case "mixture":
      return 0.5 * arcCosine(t) + 0.5 * Math.exp(t / bandwidth)
  }
}

const clampCosine = (t: number) => (t > 1 ? 1 : t < -1 ? -1 : t)

/** The degree-1 arc-cosine kernel of unit vectors at cosine t; κ(1) = 1. */
const arcCosine = (t: number): number => {
  const c = clampCosine(t)
  const theta = Math.acos(c)
  return (Math.sin(theta) + (Math.PI - theta) * c) / Math.PI
}

/** Its derivative, (π − θ)/π: the degree-0 arc-cosine kernel. */
const arcCosineSlope = (t: number): number => (Math.PI - Math.acos(clampCosine(t))) / Math.PI

/** κ'(t). */
export const kernelSlope = (kernel: FunctionKernel, bandwidth: number, t: number): number => {
  switch (kernel) {
    case "linear":
      return 1
    case "relu":
      return arcCosineSlope(t)
    case "exp":
      return Math.exp(t / bandwidth) / bandwidth
    case "mixture":
      return 0.5 * arcCosineSlope(t) + (0.5 * Math.exp(t / bandwidth)) / bandwidth
  }
}

/** Pivots at or below this fraction of the largest diagonal entry count as zero. */
export const PIVOT_TOLERANCE = 1e-10

/**
 * In place: the lower-triangular factor L (row-major m × m) of the m × m symmetric matrix `a`, with every pivot that
 * is not clearly positive set to zero together with its column. Returns the indices of the kept (positive) pivots.
 */
export const clippedCholesky = (a: Float64Array, m: number): Array<number> => {
  let largest = 0
  for (let i = 0; i < m; i++) largest = Math.max(largest, a[i * m + i]!)
  const threshold = PIVOT_TOLERANCE * largest
  const kept: Array<number> = []
  for (let i = 0; i < m; i++) {
    const ri = i * m
    for (let j = 0; j <= i; j++) {
      const rj = j * m
      let s = a[ri + j]!
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!
      if (j < i) {
        // A dropped pivot's column stays zero.
        const pivot = a[rj + j]!
        a[ri + j] = pivot === 0 ? 0 : s / pivot
      } else if (s > threshold) {
        a[ri + i] = Math.sqrt(s)
        kept.push(i)
      } else {
        a[ri + i] = 0
      }
    }
    for (let j = i + 1; j < m; j++) a[ri + j] = 0
  }
  return kept
}

/** The Gram matrix κ(p_i·p_j) of `m` points of dimension d stored consecutively in `points`. */
export const gramOf = (kernel: FunctionKernel, bandwidth: number, points: Float64Array, m: number, d: number): Float64Array => {
  const gram = new Float64Array(m * m)
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let dot = 0
      for (let k = 0; k < d; k++) dot += points[i * d + k]! * points[j * d + k]!
      gram[i * m + j] = dot
    }
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      const v = kernelValue(kernel, bandwidth, gram[i * m + j]!)
      gram[i * m + j] = v
      gram[j * m + i] = v
    }
  }
  return gram
}

/**
 * Weights β of the posterior mean m(x_q) = Σ_i β_i κ(x_i·x_q) given context values y, for the factored prior of
 * {@link clippedCholesky} on the n context points (their factor `factor`, kept pivots `kept`) and label noise of
 * variance `noiseVariance`. Without noise this is Σ_{i∈S} β_i κ(x_i·x_q) with β_S = K_SS⁻¹ y_S on the kept points S;
 * with noise, β = L_{:,S}⁻ᵀ-projected weights of (L Lᵀ + σ² I)⁻¹ y.
 */
export const posteriorWeights = (
  factor: Float64Array,
  kept: ReadonlyArray<number>,
  n: number,
  y: Float64Array,
  yOffset: number,
  noiseVariance: number
): Float64Array => {
  const s = kept.length
  // L_SS: the kept rows and columns of the factor (lower-triangular, positive diagonal).
  const lss = new Float64Array(s * s)
  for (let a = 0; a < s; a++) for (let b = 0; b <= a; b++) lss[a * s + b] = factor[kept[a]! * n + kept[b]!]!
  let rhs: Float64Array
  if (noiseVariance === 0) {
    // β_S = L_SS⁻ᵀ L_SS⁻¹ y_S.
    rhs = new Float64Array(s)
    for (let a = 0; a < s; a++) rhs[a] = y[yOffset + kept[a]!]!
    forwardSolve(lss, s, rhs)
  } else {
    // α = (L Lᵀ + σ² I)⁻¹ y, then β_S = L_SS⁻ᵀ (L_{:,S})ᵀ α.
    const cov = new Float64Array(n * n)
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let v = 0
        for (const k of kept) v += factor[i * n + k]! * factor[j * n + k]!
        cov[i * n + j] = v
        cov[j * n + i] = v
      }
      cov[i * n + i]! += noiseVariance
    }
    clippedCholesky(cov, n)
    const alpha = Float64Array.from(y.subarray(yOffset, yOffset + n))
    forwardSolve(cov, n, alpha)
    backSolve(cov, n, alpha)
    rhs = new Float64Array(s)
    for (let a = 0; a < s; a++) {
      let v = 0
      for (let i = 0; i < n; i++) v += factor[i * n + kept[a]!]! * alpha[i]!
      rhs[a] = v
    }
  }
  backSolve(lss, s, rhs)
  const beta = new Float64Array(n)
  for (let a = 0; a < s; a++) beta[kept[a]!] = rhs[a]!
  return beta
}

/** In place: x ← L⁻¹ x for lower-triangular L (m × m, row-major). */
const forwardSolve = (l: Float64Array, m: number, x: Float64Array): void => {
  for (let i = 0; i < m; i++) {
    let v = x[i]!
    for (let j = 0; j < i; j++) v -= l[i * m + j]! * x[j]!
    x[i] = v / l[i * m + i]!
  }
}

/** In place: x ← L⁻ᵀ x for lower-triangular L (m × m, row-major). */
const backSolve = (l: Float64Array, m: number, x: Float64Array): void => {
  for (let i = m - 1; i >= 0; i--) {
    let v = x[i]!
    for (let j = i + 1; j < m; j++) v -= l[j * m + i]! * x[j]!
    x[i] = v / l[i * m + i]!
  }
}
