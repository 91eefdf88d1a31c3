/**
 * The K-layer regression engine's WebAssembly SIMD kernel (AssemblyScript; built by scripts/build.mjs at install): the
 * loss and analytic gradient of K layers of linear, ReLU, exp or softmax attention over a chunk of regression tasks
 * (exps by JavaScript's Math.exp, imported, so that every weight is JavaScript's to the last bit), bit for bit as
 * the JavaScript kernel (src/domain/regression/DeepKernel.ts) computes them; src/domain/regression/SimdKernel.ts
 * binds it. src/domain/regression/DeepGradient.ts has the maths.
 *
 * Two tasks at once, one per f64x2 lane: every lane computes its task with exactly the JavaScript kernel's operations
 * in the same order (WebAssembly has no fused multiply-add to change a rounding; products and sums of two commute
 * exactly, so only the order of each longer sum matters, and every sum below names it). Lane 0 holds the even tasks of
 * the chunk and lane 1 the odd ones, and each task's gradient is added, as it is computed, to its lane's running sum
 * (GT): the JavaScript kernel's two sums over the even and the odd tasks. The chunk's gradient is their sum.
 *
 * The matrix products run in tiles of up to 2 × 4 outputs whose sums stay in registers; each tile shape is spelled
 * out (AssemblyScript has no macros), the same code for every shape.
 *
 * Memory (byte offsets laid out by configure; v128 = one entry of two tasks):
 *   PAR  [P] f64            the attention weights (per distinct layer A then P, row-major), written by JavaScript
 *   GRAD [P] f64            the chunk's gradient
 *   OFF  [K] i32            each layer's offset in PAR (a recurrent model's layers share one)
 *   XS [cap][n][d], YS [cap][n], QS [cap][d], TS [cap]  f64   the chunk's tasks, written by the sampler in place
 *   Z  [K][N][D] v128       the tokens entering each layer (context rows, then the query row)
 *   KY, VY [K][n][D] v128   Aᵀc_i and P c_i of each layer's keys
 *   W  [K][N][n] v128       each layer's attention weights (the last layer's at the query only)
 *   GS [N][n] v128          ∂L/∂S of the layer being differentiated
 *   G0, G1 [N][D] v128      ∂L/∂Z above and below it
 *   GV, R [n][D] v128       ∂L/∂V_i and R_i = Σ_j ∂L/∂S_ji Z_j
 *   GT [P] v128             the even (lane 0) and odd (lane 1) tasks' gradients, summed in task order
 *   SAVED [P] v128          GT before a last task that is alone in its vector (its lane 1 is put back after)
 */

@external("env", "exp") declare function jsExp(x: f64): f64

// ---- shape (configure) ----
let d: i32 = 0
let n: i32 = 0
let D: i32 = 0
let N: i32 = 0
let K: i32 = 0
/** Attention weights: distinct layers × 2 D². */
let P: i32 = 0
/** 0 linear, 1 ReLU, 2 exp, 3 softmax. */
let activation: i32 = 0
/** Tasks a chunk may hold, even. */
let capacity: i32 = 0

let PAR: usize = 0
let GRAD: usize = 0
let OFF: usize = 0
let XS: usize = 0
let YS: usize = 0
let QS: usize = 0
let TS: usize = 0
let Z: usize = 0
let KY: usize = 0
let VY: usize = 0
let W: usize = 0
let GS: usize = 0
let LV: usize = 0
let GW: usize = 0
let G0: usize = 0
let G1: usize = 0
let GV: usize = 0
let R: usize = 0
let GT: usize = 0
let SAVED: usize = 0
let AZ: usize = 0
let RL: usize = 0
let PU: usize = 0
let end: usize = 0

const V: usize = 16

function region(bytes: i32): usize {
  const at = (end + 15) & ~(<usize>15)
  end = at + <usize>bytes
  return at
}

/**
 * Sets the model's and the task's shape and lays out the buffers for chunks of up to `tasks` tasks; the memory grows
 * here and nowhere else, so views taken after it stay valid.
 */
export function configure(d_: i32, n_: i32, K_: i32, distinct: i32, activation_: i32, tasks: i32): void {
  d = d_
  n = n_
  D = d + 1
  N = n + 1
  K = K_
  P = distinct * 2 * D * D
  activation = activation_
  capacity = (tasks + 1) & ~1
  end = __heap_base
  PAR = region(P * 8)
  GRAD = region(P * 8)
  OFF = region(K * 4)
  XS = region(capacity * n * d * 8)
  YS = region(capacity * n * 8)
  QS = region(capacity * d * 8)
  TS = region(capacity * 8)
  Z = region(K * N * D * 16)
  KY = region(K * n * D * 16)
  VY = region(K * n * D * 16)
  W = region(K * N * n * 16)
  GS = region(N * n * 16)
  LV = region(n * 16)
  GW = region(n * 16)
  G0 = region(N * D * 16)
  G1 = region(N * D * 16)
  GV = region(n * D * 16)
  R = region(n * D * 16)
  GT = region(P * 16)
  SAVED = region(P * 16)
  AZ = region(D * 16)
  RL = region(D * 16)
  PU = region(D * 16)
  const pages = <i32>((end + 0xffff) >>> 16)
  const have = memory.size()
  if (pages > have) memory.grow(pages - have)
}

export function weights(): usize {
  return PAR
}
export function gradient(): usize {
  return GRAD
}
export function offsets(): usize {
  return OFF
}
export function inputs(): usize {
  return XS
}
export function labels(): usize {
  return YS
}
export function queries(): usize {
  return QS
}
export function targets(): usize {
  return TS
}

/** How a sum starts: from its first product, from the value at `init` (laid out as the output), or from 0. */
const FIRST: i32 = 0
const INIT: i32 = 1
const ZERO: i32 = 2

/**
 * One entry of Y as a lane pair: a v128 (T = v128: Y is a matrix of lanes, one value per task) or an f64 splat to
 * both lanes (T = f64: Y is a matrix of weights shared by both tasks). Chosen at compile time.
 */
@inline function loadY<T>(at: usize): v128 {
  return sizeof<T>() == 8 ? v128.load64_splat(at) : v128.load(at)
}

/**
 * out[j][k] = (start) + Σ_{c < C} X[j][c] · Y[c][k], c ascending, for j < J, k < Kn: products of lane matrices X by
 * Y, where Y holds lanes (T = v128) or weights shared by both lanes (T = f64, each entry splat; see loadY). Byte
 * strides: X[j][c] at X + j·xj + c·xc; Y[c][k] at Y + c·yc + k·yk; out[j][k] (and init[j][k]) at + j·oj + k·ok.
 * Tiles of 2 × 4 outputs (then 2 and 1 wide, and a last single row) keep their sums in registers and share each load.
 */
function matrixTimes<T>(
  out: usize, oj: usize, ok: usize, mode: i32, init: usize,
  X: usize, xj: usize, xc: usize,
  Y: usize, yc: usize, yk: usize,
  J: i32, Kn: i32, C: i32
): void {
  let j = 0
    for (; j + 2 <= J; j += 2) {
      let k = 0
      for (; k + 4 <= Kn; k += 4) {
        const xr0 = X + <usize>(j + 0) * xj
        const or0 = out + <usize>(j + 0) * oj + <usize>k * ok
        const ir0 = init + <usize>(j + 0) * oj + <usize>k * ok
        const xr1 = X + <usize>(j + 1) * xj
        const or1 = out + <usize>(j + 1) * oj + <usize>k * ok
        const ir1 = init + <usize>(j + 1) * oj + <usize>k * ok
        const y0 = Y + <usize>(k + 0) * yk
        const y1 = Y + <usize>(k + 1) * yk
        const y2 = Y + <usize>(k + 2) * yk
        const y3 = Y + <usize>(k + 3) * yk
        let a00: v128, a01: v128, a02: v128, a03: v128, a10: v128, a11: v128, a12: v128, a13: v128
        let c = 0
        if (mode == FIRST) {
          const x0 = v128.load(xr0)
          const x1 = v128.load(xr1)
          const w0 = loadY<T>(y0)
          const w1 = loadY<T>(y1)
          const w2 = loadY<T>(y2)
          const w3 = loadY<T>(y3)
          a00 = f64x2.mul(x0, w0)
          a01 = f64x2.mul(x0, w1)
          a02 = f64x2.mul(x0, w2)
          a03 = f64x2.mul(x0, w3)
          a10 = f64x2.mul(x1, w0)
          a11 = f64x2.mul(x1, w1)
          a12 = f64x2.mul(x1, w2)
          a13 = f64x2.mul(x1, w3)
          c = 1
        } else if (mode == INIT) {
          a00 = v128.load(ir0 + 0 * ok)
          a01 = v128.load(ir0 + 1 * ok)
          a02 = v128.load(ir0 + 2 * ok)
          a03 = v128.load(ir0 + 3 * ok)
          a10 = v128.load(ir1 + 0 * ok)
          a11 = v128.load(ir1 + 1 * ok)
          a12 = v128.load(ir1 + 2 * ok)
          a13 = v128.load(ir1 + 3 * ok)
        } else {
          a00 = f64x2.splat(0)
          a01 = f64x2.splat(0)
          a02 = f64x2.splat(0)
          a03 = f64x2.splat(0)
          a10 = f64x2.splat(0)
          a11 = f64x2.splat(0)
          a12 = f64x2.splat(0)
          a13 = f64x2.splat(0)
        }
        for (; c < C; c++) {
          const xo = <usize>c * xc
          const yo = <usize>c * yc
          const x0 = v128.load(xr0 + xo)
          const x1 = v128.load(xr1 + xo)
          const w0 = loadY<T>(y0 + yo)
          const w1 = loadY<T>(y1 + yo)
          const w2 = loadY<T>(y2 + yo)
          const w3 = loadY<T>(y3 + yo)
          a00 = f64x2.add(a00, f64x2.mul(x0, w0))
          a01 = f64x2.add(a01, f64x2.mul(x0, w1))
          a02 = f64x2.add(a02, f64x2.mul(x0, w2))
          a03 = f64x2.add(a03, f64x2.mul(x0, w3))
          a10 = f64x2.add(a10, f64x2.mul(x1, w0))
          a11 = f64x2.add(a11, f64x2.mul(x1, w1))
          a12 = f64x2.add(a12, f64x2.mul(x1, w2))
          a13 = f64x2.add(a13, f64x2.mul(x1, w3))
        }
        v128.store(or0 + 0 * ok, a00)
        v128.store(or0 + 1 * ok, a01)
        v128.store(or0 + 2 * ok, a02)
        v128.store(or0 + 3 * ok, a03)
        v128.store(or1 + 0 * ok, a10)
        v128.store(or1 + 1 * ok, a11)
        v128.store(or1 + 2 * ok, a12)
        v128.store(or1 + 3 * ok, a13)
      }
      for (; k + 2 <= Kn; k += 2) {
        const xr0 = X + <usize>(j + 0) * xj
        const or0 = out + <usize>(j + 0) * oj + <usize>k * ok
        const ir0 = init + <usize>(j + 0) * oj + <usize>k * ok
        const xr1 = X + <usize>(j + 1) * xj
        const or1 = out + <usize>(j + 1) * oj + <usize>k * ok
        const ir1 = init + <usize>(j + 1) * oj + <usize>k * ok
        const y0 = Y + <usize>(k + 0) * yk
        const y1 = Y + <usize>(k + 1) * yk
        let a00: v128, a01: v128, a10: v128, a11: v128
        let c = 0
        if (mode == FIRST) {
          const x0 = v128.load(xr0)
          const x1 = v128.load(xr1)
          const w0 = loadY<T>(y0)
          const w1 = loadY<T>(y1)
          a00 = f64x2.mul(x0, w0)
          a01 = f64x2.mul(x0, w1)
          a10 = f64x2.mul(x1, w0)
          a11 = f64x2.mul(x1, w1)
          c = 1
        } else if (mode == INIT) {
          a00 = v128.load(ir0 + 0 * ok)
          a01 = v128.load(ir0 + 1 * ok)
          a10 = v128.load(ir1 + 0 * ok)
          a11 = v128.load(ir1 + 1 * ok)
        } else {
          a00 = f64x2.splat(0)
          a01 = f64x2.splat(0)
          a10 = f64x2.splat(0)
          a11 = f64x2.splat(0)
        }
        for (; c < C; c++) {
          const xo = <usize>c * xc
          const yo = <usize>c * yc
          const x0 = v128.load(xr0 + xo)
          const x1 = v128.load(xr1 + xo)
          const w0 = loadY<T>(y0 + yo)
          const w1 = loadY<T>(y1 + yo)
          a00 = f64x2.add(a00, f64x2.mul(x0, w0))
          a01 = f64x2.add(a01, f64x2.mul(x0, w1))
          a10 = f64x2.add(a10, f64x2.mul(x1, w0))
          a11 = f64x2.add(a11, f64x2.mul(x1, w1))
        }
        v128.store(or0 + 0 * ok, a00)
        v128.store(or0 + 1 * ok, a01)
        v128.store(or1 + 0 * ok, a10)
        v128.store(or1 + 1 * ok, a11)
      }
      for (; k < Kn; k++) {
        const xr0 = X + <usize>(j + 0) * xj
        const or0 = out + <usize>(j + 0) * oj + <usize>k * ok
        const ir0 = init + <usize>(j + 0) * oj + <usize>k * ok
        const xr1 = X + <usize>(j + 1) * xj
        const or1 = out + <usize>(j + 1) * oj + <usize>k * ok
        const ir1 = init + <usize>(j + 1) * oj + <usize>k * ok
        const y0 = Y + <usize>(k + 0) * yk
        let a00: v128, a10: v128
        let c = 0
        if (mode == FIRST) {
          const x0 = v128.load(xr0)
          const x1 = v128.load(xr1)
          const w0 = loadY<T>(y0)
          a00 = f64x2.mul(x0, w0)
          a10 = f64x2.mul(x1, w0)
          c = 1
        } else if (mode == INIT) {
          a00 = v128.load(ir0 + 0 * ok)
          a10 = v128.load(ir1 + 0 * ok)
        } else {
          a00 = f64x2.splat(0)
          a10 = f64x2.splat(0)
        }
        for (; c < C; c++) {
          const xo = <usize>c * xc
          const yo = <usize>c * yc
          const x0 = v128.load(xr0 + xo)
          const x1 = v128.load(xr1 + xo)
          const w0 = loadY<T>(y0 + yo)
          a00 = f64x2.add(a00, f64x2.mul(x0, w0))
          a10 = f64x2.add(a10, f64x2.mul(x1, w0))
        }
        v128.store(or0 + 0 * ok, a00)
        v128.store(or1 + 0 * ok, a10)
      }
    }
    for (; j < J; j++) {
      let k = 0
      for (; k + 4 <= Kn; k += 4) {
        const xr0 = X + <usize>(j + 0) * xj
        const or0 = out + <usize>(j + 0) * oj + <usize>k * ok
        const ir0 = init + <usize>(j + 0) * oj + <usize>k * ok
        const y0 = Y + <usize>(k + 0) * yk
        const y1 = Y + <usize>(k + 1) * yk
        const y2 = Y + <usize>(k + 2) * yk
        const y3 = Y + <usize>(k + 3) * yk
        let a00: v128, a01: v128, a02: v128, a03: v128
        let c = 0
        if (mode == FIRST) {
          const x0 = v128.load(xr0)
          const w0 = loadY<T>(y0)
          const w1 = loadY<T>(y1)
          const w2 = loadY<T>(y2)
          const w3 = loadY<T>(y3)
          a00 = f64x2.mul(x0, w0)
          a01 = f64x2.mul(x0, w1)
          a02 = f64x2.mul(x0, w2)
          a03 = f64x2.mul(x0, w3)
          c = 1
        } else if (mode == INIT) {
          a00 = v128.load(ir0 + 0 * ok)
          a01 = v128.load(ir0 + 1 * ok)
          a02 = v128.load(ir0 + 2 * ok)
          a03 = v128.load(ir0 + 3 * ok)
        } else {
          a00 = f64x2.splat(0)
          a01 = f64x2.splat(0)
          a02 = f64x2.splat(0)
          a03 = f64x2.splat(0)
        }
        for (; c < C; c++) {
          const xo = <usize>c * xc
          const yo = <usize>c * yc
          const x0 = v128.load(xr0 + xo)
          const w0 = loadY<T>(y0 + yo)
          const w1 = loadY<T>(y1 + yo)
          const w2 = loadY<T>(y2 + yo)
          const w3 = loadY<T>(y3 + yo)
          a00 = f64x2.add(a00, f64x2.mul(x0, w0))
          a01 = f64x2.add(a01, f64x2.mul(x0, w1))
          a02 = f64x2.add(a02, f64x2.mul(x0, w2))
          a03 = f64x2.add(a03, f64x2.mul(x0, w3))
        }
        v128.store(or0 + 0 * ok, a00)
        v128.store(or0 + 1 * ok, a01)
        v128.store(or0 + 2 * ok, a02)
        v128.store(or0 + 3 * ok, a03)
      }
      for (; k + 2 <= Kn; k += 2) {
        const xr0 = X + <usize>(j + 0) * xj
        const or0 = out + <usize>(j + 0) * oj + <usize>k * ok
        const ir0 = init + <usize>(j + 0) * oj + <usize>k * ok
        const y0 = Y + <usize>(k + 0) * yk
        const y1 = Y + <usize>(k + 1) * yk
        let a00: v128, a01: v128
        let c = 0
        if (mode == FIRST) {
          const x0 = v128.load(xr0)
          const w0 = loadY<T>(y0)
          const w1 = loadY<T>(y1)
          a00 = f64x2.mul(x0, w0)
          a01 = f64x2.mul(x0, w1)
          c = 1
        } else if (mode == INIT) {
          a00 = v128.load(ir0 + 0 * ok)
          a01 = v128.load(ir0 + 1 * ok)
        } else {
          a00 = f64x2.splat(0)
          a01 = f64x2.splat(0)
        }
        for (; c < C; c++) {
          const xo = <usize>c * xc
          const yo = <usize>c * yc
          const x0 = v128.load(xr0 + xo)
          const w0 = loadY<T>(y0 + yo)
          const w1 = loadY<T>(y1 + yo)
          a00 = f64x2.add(a00, f64x2.mul(x0, w0))
          a01 = f64x2.add(a01, f64x2.mul(x0, w1))
        }
        v128.store(or0 + 0 * ok, a00)
        v128.store(or0 + 1 * ok, a01)
      }
      for (; k < Kn; k++) {
        const xr0 = X + <usize>(j + 0) * xj
        const or0 = out + <usize>(j + 0) * oj + <usize>k * ok
        const ir0 = init + <usize>(j + 0) * oj + <usize>k * ok
        const y0 = Y + <usize>(k + 0) * yk
        let a00: v128
        let c = 0
        if (mode == FIRST) {
          const x0 = v128.load(xr0)
          const w0 = loadY<T>(y0)
          a00 = f64x2.mul(x0, w0)
          c = 1
        } else if (mode == INIT) {
          a00 = v128.load(ir0 + 0 * ok)
        } else {
          a00 = f64x2.splat(0)
        }
        for (; c < C; c++) {
          const xo = <usize>c * xc
          const yo = <usize>c * yc
          const x0 = v128.load(xr0 + xo)
          const w0 = loadY<T>(y0 + yo)
          a00 = f64x2.add(a00, f64x2.mul(x0, w0))
        }
        v128.store(or0 + 0 * ok, a00)
      }
    }
}

/** Math.exp of each lane (JavaScript's own, imported, so that a weight is the JavaScript kernel's to the last bit). */
function expLanes(x: v128): v128 {
  return f64x2.replace_lane(f64x2.splat(jsExp(f64x2.extract_lane(x, 0))), 1, jsExp(f64x2.extract_lane(x, 1)))
}

/**
 * Scores into weights in place, rows × cols entries: s/n (linear), s > 0 ? s/n : 0 (ReLU), exp(s)/n (exp), with 1/n
 * multiplied; softmax along each row (its largest score subtracted, then the exps' sum from 0, inverted once).
 */
function activate(at: usize, rows: i32, cols: i32, invN: v128): void {
  const zero = f64x2.splat(0)
  if (activation == 3) {
    for (let j = 0; j < rows; j++) {
      const row = at + <usize>(j * cols) * V
      let mx = f64x2.splat(-Infinity)
      for (let i = 0; i < cols; i++) {
        const s = v128.load(row + <usize>i * V)
        mx = v128.bitselect(s, mx, f64x2.gt(s, mx))
      }
      let tot = zero
      for (let i = 0; i < cols; i++) {
        const p = row + <usize>i * V
        const w = expLanes(f64x2.sub(v128.load(p), mx))
        v128.store(p, w)
        tot = f64x2.add(tot, w)
      }
      const inv = f64x2.div(f64x2.splat(1), tot)
      for (let i = 0; i < cols; i++) {
        const p = row + <usize>i * V
        v128.store(p, f64x2.mul(v128.load(p), inv))
      }
    }
    return
  }
  const count = rows * cols
  for (let e = 0; e < count; e++) {
    const p = at + <usize>e * V
    const s = v128.load(p)
    if (activation == 2) v128.store(p, f64x2.mul(expLanes(s), invN))
    else {
      const w = f64x2.mul(s, invN)
      v128.store(p, activation == 0 ? w : v128.bitselect(w, zero, f64x2.gt(s, zero)))
    }
  }
}

/**
 * ∂L/∂W into ∂L/∂S in place given the weights, rows × cols entries: g/n (linear), w > 0 ? g/n : 0 (ReLU), g·w (exp);
 * softmax along each row, w (g − Σ_i w_i g_i) with the sum from 0.
 */
function scoreGradient(at: usize, weightsAt: usize, rows: i32, cols: i32, invN: v128): void {
  const zero = f64x2.splat(0)
  if (activation == 3) {
    for (let j = 0; j < rows; j++) {
      const row = at + <usize>(j * cols) * V
      const wrow = weightsAt + <usize>(j * cols) * V
      let dot = zero
      for (let i = 0; i < cols; i++) dot = f64x2.add(dot, f64x2.mul(v128.load(wrow + <usize>i * V), v128.load(row + <usize>i * V)))
      for (let i = 0; i < cols; i++) {
        const p = row + <usize>i * V
        v128.store(p, f64x2.mul(v128.load(wrow + <usize>i * V), f64x2.sub(v128.load(p), dot)))
      }
    }
    return
  }
  const count = rows * cols
  for (let e = 0; e < count; e++) {
    const p = at + <usize>e * V
    const w = v128.load(weightsAt + <usize>e * V)
    if (activation == 2) v128.store(p, f64x2.mul(v128.load(p), w))
    else {
      const g = f64x2.mul(v128.load(p), invN)
      v128.store(p, activation == 0 ? g : v128.bitselect(g, zero, f64x2.gt(w, zero)))
    }
  }
}

/** Two f64 values as one lane pair. */
@inline function pair(a: f64, b: f64): v128 {
  return f64x2.replace_lane(f64x2.splat(a), 1, b)
}

/**
 * The mean squared-error loss ½ (ŷ − y)² of tasks [0, count) of the chunk as a share of a batch of batchSize (each
 * task's term over 2·batchSize), its gradient written into GRAD: DeepKernel's contract.
 */
export function lossAndGradient(count: i32, batchSize: i32): f64 {
  const invN = f64x2.splat(1 / <f64>n)
  const gScale = f64x2.splat(1 / <f64>batchSize)
  const ND = <usize>(N * D) * V
  const nD = <usize>(n * D) * V
  const Nn = <usize>(N * n) * V
  const row = <usize>D * V
  const DD8 = <usize>(D * D) * 8
  memory.fill(GT, 0, <usize>P * V)
  let lossSum: f64 = 0
  for (let t = 0; t < count; t += 2) {
    const two = t + 1 < count
    const u = two ? t + 1 : t
    // A last task alone: its lane 1 repeats it, and the odd tasks' sums are put back afterwards.
    if (!two) memory.copy(SAVED, GT, <usize>P * V)
    // Z_0: the tasks' tokens (a missing second task repeats the first; its lane is never read out).
    for (let i = 0; i < n; i++) {
      const zo = Z + <usize>i * row
      for (let k = 0; k < d; k++) {
        v128.store(zo + <usize>k * V, pair(load<f64>(XS + (<usize>((t * n + i) * d + k) << 3)), load<f64>(XS + (<usize>((u * n + i) * d + k) << 3))))
      }
      v128.store(zo + <usize>d * V, pair(load<f64>(YS + (<usize>(t * n + i) << 3)), load<f64>(YS + (<usize>(u * n + i) << 3))))
    }
    const zq = Z + <usize>n * row
    for (let k = 0; k < d; k++) v128.store(zq + <usize>k * V, pair(load<f64>(QS + (<usize>(t * d + k) << 3)), load<f64>(QS + (<usize>(u * d + k) << 3))))
    v128.store(zq + <usize>d * V, f64x2.splat(0))

    // Forward through the layers before the last.
    for (let l = 0; l < K - 1; l++) {
      const A = PAR + (<usize>load<i32>(OFF + (<usize>l << 2)) << 3)
      const Pm = A + DD8
      const z = Z + <usize>l * ND
      const ky = KY + <usize>l * nD
      const vy = VY + <usize>l * nD
      const w = W + <usize>l * Nn
      // KY[i][r] = Σ_c A[c, r] Z[i][c];  VY[i][r] = Σ_c P[r, c] Z[i][c].
      matrixTimes<f64>(ky, row, V, FIRST, 0, z, row, V, A, <usize>D * 8, 8, n, D, D)
      matrixTimes<f64>(vy, row, V, FIRST, 0, z, row, V, Pm, 8, <usize>D * 8, n, D, D)
      // W[j][i] = h(Σ_c Z[j][c] KY[i][c]).
      matrixTimes<v128>(w, <usize>n * V, V, FIRST, 0, z, row, V, ky, V, row, N, n, D)
      activate(w, N, n, invN)
      // Z_{l+1}[j][c] = Z[j][c] + Σ_i W[j][i] VY[i][c].
      matrixTimes<v128>(z + ND, row, V, INIT, z, w, <usize>n * V, V, vy, row, V, N, D, n)
    }

    // The last layer, at the query only.
    const A = PAR + (<usize>load<i32>(OFF + (<usize>(K - 1) << 2)) << 3)
    const pRow = A + DD8 + <usize>(d * D) * 8
    const aGrad = GT + ((A - PAR) << 1)
    const pGrad = aGrad + <usize>(D * D + d * D) * V
    const zL = Z + <usize>(K - 1) * ND
    const q = zL + <usize>n * row
    const wl = W + <usize>(K - 1) * Nn
    // az[r] = Σ_c A[r, c] q[c];  W[i] = h(Σ_c Z[i][c] az[c]);  LV[i] = Σ_c P[d, c] Z[i][c].
    matrixTimes<f64>(AZ, 0, V, FIRST, 0, q, 0, V, A, 8, <usize>D * 8, 1, D, D)
    matrixTimes<v128>(wl, V, 0, FIRST, 0, zL, row, V, AZ, V, 0, n, 1, D)
    matrixTimes<f64>(LV, V, 0, FIRST, 0, zL, row, V, pRow, 8, 0, n, 1, D)
    activate(wl, 1, n, invN)
    let upd = f64x2.splat(0)
    for (let i = 0; i < n; i++) upd = f64x2.add(upd, f64x2.mul(v128.load(wl + <usize>i * V), v128.load(LV + <usize>i * V)))
    const error = f64x2.sub(f64x2.neg(f64x2.add(v128.load(q + <usize>d * V), upd)), pair(load<f64>(TS + (<usize>t << 3)), load<f64>(TS + (<usize>u << 3))))
    const gOut = f64x2.mul(f64x2.neg(error), gScale)
    const e0 = f64x2.extract_lane(error, 0)
    lossSum += e0 * e0
    if (two) {
      const e1 = f64x2.extract_lane(error, 1)
      lossSum += e1 * e1
    }
    // GW[i] = ∂L/∂S_qi from ∂L/∂W_qi = gOut LV[i]; RL[c] = Σ_i GW[i] Z[i][c] and PU[c] = Σ_i W[i] Z[i][c], from 0.
    for (let i = 0; i < n; i++) v128.store(GW + <usize>i * V, f64x2.mul(gOut, v128.load(LV + <usize>i * V)))
    if (activation == 3) {
      // Softmax at the query: Σ_i W_i ∂L/∂W_i = gOut · upd.
      const dot = f64x2.mul(gOut, upd)
      for (let i = 0; i < n; i++) {
        const p = GW + <usize>i * V
        v128.store(p, f64x2.mul(v128.load(wl + <usize>i * V), f64x2.sub(v128.load(p), dot)))
      }
    } else scoreGradient(GW, wl, 1, n, invN)
    matrixTimes<v128>(RL, 0, V, ZERO, 0, GW, 0, V, zL, row, V, 1, D, n)
    matrixTimes<v128>(PU, 0, V, ZERO, 0, wl, 0, V, zL, row, V, 1, D, n)
    for (let c = 0; c < D; c++) {
      const at = pGrad + <usize>c * V
      v128.store(at, f64x2.add(v128.load(at), f64x2.mul(gOut, v128.load(PU + <usize>c * V))))
    }
    for (let r = 0; r < D; r++) {
      const rr = v128.load(RL + <usize>r * V)
      for (let c = 0; c < D; c++) {
        const at = aGrad + <usize>(r * D + c) * V
        v128.store(at, f64x2.add(v128.load(at), f64x2.mul(rr, v128.load(q + <usize>c * V))))
      }
    }
    if (K > 1) {
      // ∂L/∂Z_{K−1}: the query row Σ_r A[r, c] RL[r] (+ gOut at the label); key i GW[i] az + W[i] gOut P[d, ·].
      const gq = G0 + <usize>n * row
      matrixTimes<f64>(gq, 0, V, FIRST, 0, RL, 0, V, A, <usize>D * 8, 8, 1, D, D)
      v128.store(gq + <usize>d * V, f64x2.add(v128.load(gq + <usize>d * V), gOut))
      for (let i = 0; i < n; i++) {
        const gs = v128.load(GW + <usize>i * V)
        const vv = f64x2.mul(v128.load(wl + <usize>i * V), gOut)
        const go = G0 + <usize>i * row
        for (let c = 0; c < D; c++) {
          v128.store(go + <usize>c * V, f64x2.add(f64x2.mul(gs, v128.load(AZ + <usize>c * V)), f64x2.mul(vv, v128.load64_splat(pRow + <usize>c * 8))))
        }
      }
    }

    // Backward through the layers before the last.
    let G = G0
    let Gn = G1
    for (let l = K - 2; l >= 0; l--) {
      const a = PAR + (<usize>load<i32>(OFF + (<usize>l << 2)) << 3)
      const Pm = a + DD8
      const ga = GT + ((a - PAR) << 1)
      const gp = ga + <usize>(D * D) * V
      const z = Z + <usize>l * ND
      const ky = KY + <usize>l * nD
      const vy = VY + <usize>l * nD
      const w = W + <usize>l * Nn
      // GS[j][i] = ∂L/∂S_ji from Σ_c G[j][c] VY[i][c].
      matrixTimes<v128>(GS, <usize>n * V, V, FIRST, 0, G, row, V, vy, V, row, N, n, D)
      scoreGradient(GS, w, N, n, invN)
      // The residual and query side: Gn[j][c] = G[j][c] + Σ_i GS[j][i] KY[i][c].
      if (l > 0) matrixTimes<v128>(Gn, row, V, INIT, G, GS, <usize>n * V, V, ky, row, V, N, D, n)
      // GV[i][c] = Σ_j W[j][i] G[j][c] and R[i][c] = Σ_j GS[j][i] Z[j][c], from 0.
      matrixTimes<v128>(GV, row, V, ZERO, 0, w, V, <usize>n * V, G, row, V, n, D, N)
      matrixTimes<v128>(R, row, V, ZERO, 0, GS, V, <usize>n * V, z, row, V, n, D, N)
      // The weights' gradients: GT_A[r][c] += Σ_i Z[i][r] R[i][c];  GT_P[r][c] += Σ_i GV[i][r] Z[i][c].
      matrixTimes<v128>(ga, row, V, INIT, ga, z, V, row, R, row, V, D, D, n)
      matrixTimes<v128>(gp, row, V, INIT, gp, GV, V, row, z, row, V, D, D, n)
      if (l == 0) break
      // The key and value sides: Gn[i][r] += Σ_c A[r, c] R[i][c], then Σ_c P[c, r] GV[i][c].
      matrixTimes<f64>(Gn, row, V, INIT, Gn, R, row, V, a, 8, <usize>D * 8, n, D, D)
      matrixTimes<f64>(Gn, row, V, INIT, Gn, GV, row, V, Pm, <usize>D * 8, 8, n, D, D)
      const swap = G
      G = Gn
      Gn = swap
    }

    if (!two) {
      for (let k = 0; k < P; k++) {
        const at = GT + <usize>k * V
        v128.store(at, f64x2.replace_lane(v128.load(at), 1, f64x2.extract_lane(v128.load(SAVED + <usize>k * V), 1)))
      }
    }
  }
  // The chunk's gradient: the even tasks' sum plus the odd tasks'.
  for (let k = 0; k < P; k++) {
    const g = v128.load(GT + <usize>k * V)
    store<f64>(GRAD + (<usize>k << 3), f64x2.extract_lane(g, 0) + f64x2.extract_lane(g, 1))
  }
  return lossSum / (2 * <f64>batchSize)
}
