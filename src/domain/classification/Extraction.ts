/**
 * GD parameters read off trained weights, and how close the weights are to the GD construction (spec §4.5).
 *
 * W_KQ = [[A, A_xy], [A_yx, A_yy]] and W_PV = [[P_xx, P_xy], [P_yx, B_yy]] with x rows/columns first.
 *   a = tr(A)/d                       the projection of A onto span{I}
 *   b = mean diag B_yy − mean offdiag B_yy   the projection of B_yy onto span{I, 11ᵀ} without the 11ᵀ part
 * Linear attention implements GD-lin with η = a·b; softmax attention CA-KGD with c_σ = a, c_η = n·b; exp attention
 * KGD-fixed with c_σ = a and η = b·exp(|a|/√D − expShift) (the |c_σ| shift convention of GdMath).
 */
import type { ReferenceKind, ReferenceParams, ReferenceShape } from "./GdMath.js"
import type { ModelSpec, Weights } from "./Model.js"

export type SolutionKind = "selection" | "elimination" | "mixed"

export interface StructureDiagnostics {
  readonly a: number
  readonly b: number
  /** ‖A − aI‖_F / ‖A‖_F */
  readonly rA: number
  /** ‖B_yy − bI − c11ᵀ‖_F / ‖B_yy‖_F */
  readonly rB: number
  /** ‖A_yx‖_F / ‖A‖_F */
  readonly aYxRatio: number
  /** ‖P_yx‖_F / ‖B_yy‖_F */
  readonly pYxRatio: number
  /** Largest |W − W_init| over the blocks that cannot affect the output (A_xy, A_yy, P_xx, P_xy); 0 when trained. */
  readonly untouchedDrift: number | null
}

export interface ExtractedParameters {
  readonly reference: ReferenceKind
  readonly diagnostics: StructureDiagnostics
  /** The reference's parameters in GdMath's convention (scale = η, or b for ca-kgd). */
  readonly params: ReferenceParams
  /** linear: η = a·b; exp: the effective η; softmax: null. */
  readonly eta: number | null
  /** Kernel models: c_σ = a. */
  readonly cSigma: number | null
  /** Softmax: c_η = n·b (no 1/n inside softmax attention, spec §7 item 6). */
  readonly cEta: number | null
  /** Kernel models: which kind of solution the signs of (c_σ, b) describe. */
  readonly solution: SolutionKind | null
}

export const referenceKindOf = (spec: ModelSpec): ReferenceKind =>
  spec.attention === "linear" ? "gd-linear" : spec.attention === "softmax" ? "ca-kgd" : "kgd-fixed"

export const referenceShapeOf = (spec: ModelSpec): ReferenceShape => ({
  kind: referenceKindOf(spec),
  D: spec.d + spec.C,
  selfAttend: spec.attention === "softmax" && spec.attendToQuery
})

const block = (m: Float64Array, D: number, rows: [number, number], cols: [number, number]) => {
  const out: Array<number> = []
  for (let r = rows[0]; r < rows[1]; r++) for (let c = cols[0]; c < cols[1]; c++) out.push(m[r * D + c]!)
  return out
}
const frobenius = (values: ReadonlyArray<number>) => Math.sqrt(values.reduce((s, v) => s + v * v, 0))
const safeRatio = (num: number, den: number) => (den > 0 ? num / den : Number.NaN)

export const solutionKind = (cSigma: number, b: number): SolutionKind =>
  cSigma > 0 && b > 0 ? "selection" : cSigma < 0 && b < 0 ? "elimination" : "mixed"

export const structureDiagnostics = (spec: ModelSpec, w: Weights, init?: Weights): StructureDiagnostics => {
  const { d, C } = spec
  const D = w.D
  const A = block(w.kq, D, [0, d], [0, d])
  const Byy = block(w.pv, D, [d, D], [d, D])
  let trace = 0
  for (let k = 0; k < d; k++) trace += w.kq[k * D + k]!
  const a = trace / d
  let diag = 0
  let off = 0
  for (let r = 0; r < C; r++) for (let c = 0; c < C; c++) (r === c ? (diag += Byy[r * C + c]!) : (off += Byy[r * C + c]!))
  const meanDiag = diag / C
  const meanOff = C > 1 ? off / (C * (C - 1)) : 0
  const b = meanDiag - meanOff
  const aResidual = A.map((v, i) => v - (Math.floor(i / d) === i % d ? a : 0))
  const bResidual = Byy.map((v, i) => v - meanOff - (Math.floor(i / C) === i % C ? b : 0))
  let untouchedDrift: number | null = null
  if (init) {
    const pairs: Array<[Float64Array, Float64Array, [number, number], [number, number]]> = [
      [w.kq, init.kq, [0, d], [d, D]],
      [w.kq, init.kq, [d, D], [d, D]],
      [w.pv, init.pv, [0, d], [0, d]],
      [w.pv, init.pv, [0, d], [d, D]]
    ]
    untouchedDrift = 0
    for (const [now, then, rows, cols] of pairs) {
      const x = block(now, D, rows, cols)
      const y = block(then, D, rows, cols)
      for (let i = 0; i < x.length; i++) untouchedDrift = Math.max(untouchedDrift, Math.abs(x[i]! - y[i]!))
    }
  }
  return {
    a,
    b,
    rA: safeRatio(frobenius(aResidual), frobenius(A)),
    rB: safeRatio(frobenius(bResidual), frobenius(Byy)),
    aYxRatio: safeRatio(frobenius(block(w.kq, D, [d, D], [0, d])), frobenius(A)),
    pYxRatio: safeRatio(frobenius(block(w.pv, D, [d, D], [0, d])), frobenius(Byy)),
    untouchedDrift
  }
}

/** Reads the matching reference's parameters off the weights; n is the context length the model runs at. */
export const extractParameters = (spec: ModelSpec, w: Weights, n: number, init?: Weights): ExtractedParameters => {
  const diagnostics = structureDiagnostics(spec, w, init)
  const { a, b } = diagnostics
  const reference = referenceKindOf(spec)
  const sqrtD = Math.sqrt(spec.d + spec.C)
  switch (spec.attention) {
    case "linear":
      return {
        reference,
        diagnostics,
        params: { cSigma: 0, scale: a * b },
        eta: a * b,
        cSigma: null,
        cEta: null,
        solution: null
      }
    case "softmax":
      return {
        reference,
        diagnostics,
        params: { cSigma: a, scale: b },
        eta: null,
        cSigma: a,
        cEta: n * b,
        solution: solutionKind(a, b)
      }
    case "exp": {
      const eta = b * Math.exp(Math.abs(a) / sqrtD - spec.expShift)
      return {
        reference,
        diagnostics,
        params: { cSigma: a, scale: eta },
        eta,
        cSigma: a,
        cEta: null,
        solution: solutionKind(a, b)
      }
    }
  }
}

/** The GD construction of spec §4: A = a·I_d, B_yy = b·I_C, every other block 0. */
export const constructionWeights = (spec: ModelSpec, a: number, b: number): Weights => {
  const D = spec.d + spec.C
  const kq = new Float64Array(D * D)
  const pv = new Float64Array(D * D)
  for (let k = 0; k < spec.d; k++) kq[k * D + k] = a
  for (let c = spec.d; c < D; c++) pv[c * D + c] = b
  return { D, kq, pv }
}
