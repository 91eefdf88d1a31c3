/**
 * The fused classification engine's WebAssembly SIMD kernel (AssemblyScript; built by scripts/build.mjs at install).
 * It samples a chunk of a training batch and computes its mean cross-entropy and gradient with respect to W_KQ and
 * W_PV, bit for bit as the JavaScript sampler (src/domain/classification/Task.ts, src/domain/Rng.ts) and kernel
 * (src/domain/classification/FusedKernel.ts) do: src/domain/classification/SimdKernel.ts binds it.
 *
 * Tasks live in vector lanes, so every lane computes its task with exactly the JavaScript operations, in the same
 * order (WebAssembly has no fused multiply-add to change a rounding):
 *   sampling  four tasks at once, one xoshiro128** stream per i32x4 lane; a ziggurat draw that leaves the rectangles
 *             (0.43% of draws with the training batches' 1024 layers, 2.8% with 128) is finished on that lane alone,
 *             as Rng.normalFrom does.
 *   kernel    two tasks at once, one per f64x2 lane; sums across tasks (loss, gradients) are taken lane by lane in
 *             task order, as the JavaScript kernel's loop over tasks takes them.
 * Memory layout of a chunk (pair p = tasks 2p and 2p + 1; lane = task & 1):
 *   X   [pair][i][k][lane] f64   context inputs        LAB [pair][i][lane] i32   context labels
 *   Q   [pair][k][lane]    f64   query inputs          QL  [pair][lane]    i32   query labels
 * Math.exp and Math.log are imported from JavaScript (the loss's log-sum-exp, the ziggurat's wedges and tail), so
 * that those values are JavaScript's own.
 */

@external("env", "exp") declare function jsExp(x: f64): f64
@external("env", "log") declare function jsLog(x: f64): f64

// ---- shape of the model and the task (configure) ----
let d: i32 = 0
let C: i32 = 0
let n: i32 = 0
let D: i32 = 0
/** 0 linear, 1 exp, 2 softmax. */
let attention: i32 = 0
let attendToQuery: bool = false
let expShift: f64 = 0
let invSqrtD: f64 = 0
/** ε/√d: the scale of a point's noise around its class vector. */
let noiseScale: f64 = 0
/** Tasks a chunk may hold, a multiple of 4. */
let capacity: i32 = 0

// ---- memory regions: byte offsets, laid out by init and configure ----
let ZIG128: usize = 0 // the 128-layer ziggurat's layers: 128 × (f64 w, i32 k, pad)
let ZIGF128: usize = 0 // its f: 128 f64
let ZIGT: usize = 0 // the training batches' ziggurat (up to MAX_LAYERS layers), laid out alike
let ZIGFT: usize = 0
let EXPJ: usize = 0 // FastExp's 2^(j/64): 64 f64
let EXPM: usize = 0 // FastExp's 2^m: 2131 f64
let TABLES_END: usize = 0
let KQ: usize = 0 // W_KQ, D×D f64
let PV: usize = 0 // W_PV, D×D f64
let GKQ: usize = 0 // gradient of W_KQ
let GPV: usize = 0 // gradient of W_PV
let X: usize = 0
let LAB: usize = 0
let Q: usize = 0
let QL: usize = 0
let CV: usize = 0 // class vectors of the four tasks being sampled: [pair of the quad][c][k][lane]
let RNG: usize = 0 // the four lanes' xoshiro state: s0, s1, s2, s3 as i32x4
let SC: usize = 0 // per key: score, then attention weight ([key][lane])
let UY: usize = 0 // u's label part, [c][lane]
let HY: usize = 0 // h's label part, then g_u's
let GHY: usize = 0 // g_h's label part
let H: usize = 0 // h's x part, [k][lane]
let GH: usize = 0 // g_h's x part
let GU: usize = 0 // g_u's x part
let GZ: usize = 0 // logits, then g_z, [c][lane]
let end: usize = 0

let lossSum: f64 = 0

function region(bytes: i32): usize {
  const at = (end + 15) & ~(<usize>15)
  end = at + <usize>bytes
  return at
}

function ensureMemory(): void {
  const pages = <i32>((end + 0xffff) >>> 16)
  const have = memory.size()
  if (pages > have) memory.grow(pages - have)
}

/** Lays out the tables, which JavaScript then fills (the same values its own sampler and FastExp use). */
export function init(): void {
  end = __heap_base
  ZIG128 = region(128 * 16)
  ZIGF128 = region(128 * 8)
  ZIGT = region(MAX_LAYERS * 16)
  ZIGFT = region(MAX_LAYERS * 8)
  EXPJ = region(64 * 8)
  EXPM = region(2131 * 8)
  TABLES_END = end
  ensureMemory()
}

/** The most layers a ziggurat's tables may have. */
const MAX_LAYERS: i32 = 4096

let trainLayers: i32 = 0
let trainR: f64 = 0
const R128: f64 = 3.442619855899

/**
 * Where the `layers`-layer ziggurat's tables go: the 128-layer one's, or the training batches' (which then has
 * `layers` layers, a power of two up to MAX_LAYERS, and its tail beyond r).
 */
export function zigguratLayers(layers: i32, r: f64): usize {
  if (layers == 128) return ZIG128
  trainLayers = layers
  trainR = r
  return ZIGT
}
export function zigguratF(layers: i32): usize {
  return layers == 128 ? ZIGF128 : ZIGFT
}

// The ziggurat the sampler draws from (Rng's Ziggurat): its tables, its layer bits and where its tail starts.
let ZIG: usize = 0
let ZIGF: usize = 0
let zigMask: i32 = 127
let zigShift: i32 = 7
let zigR: f64 = 0

function useZiggurat(layers: i32): void {
  const is128 = layers == 128
  ZIG = is128 ? ZIG128 : ZIGT
  ZIGF = is128 ? ZIGF128 : ZIGFT
  zigMask = layers - 1
  zigShift = ctz<i32>(layers)
  zigR = is128 ? R128 : trainR
}
export function expTableJ(): usize {
  return EXPJ
}
export function expTableM(): usize {
  return EXPM
}

/** Sets the model's and the task's shape and lays out the buffers for chunks of up to `tasks` tasks. */
export function configure(
  d_: i32,
  C_: i32,
  n_: i32,
  attention_: i32,
  attendToQuery_: bool,
  expShift_: f64,
  noiseScale_: f64,
  tasks: i32
): void {
  d = d_
  C = C_
  n = n_
  D = d + C
  attention = attention_
  attendToQuery = attendToQuery_
  expShift = expShift_
  invSqrtD = 1 / Math.sqrt(<f64>D)
  noiseScale = noiseScale_
  capacity = (tasks + 3) & ~3
  end = TABLES_END
  const pairs = capacity >> 1
  KQ = region(D * D * 8)
  PV = region(D * D * 8)
  GKQ = region(D * D * 8)
  GPV = region(D * D * 8)
  X = region(pairs * n * d * 16)
  LAB = region(pairs * n * 8)
  Q = region(pairs * d * 16)
  QL = region(pairs * 8)
  CV = region(2 * C * d * 16)
  RNG = region(64)
  SC = region((n + 1) * 16)
  UY = region(C * 16)
  HY = region(C * 16)
  GHY = region(C * 16)
  H = region(d * 16)
  GH = region(d * 16)
  GU = region(d * 16)
  GZ = region(C * 16)
  ensureMemory()
}

export function weightsKq(): usize {
  return KQ
}
export function weightsPv(): usize {
  return PV
}
export function gradientKq(): usize {
  return GKQ
}
export function gradientPv(): usize {
  return GPV
}
export function contextInputs(): usize {
  return X
}
export function contextLabels(): usize {
  return LAB
}
export function queryInputs(): usize {
  return Q
}
export function queryLabels(): usize {
  return QL
}

// ---- Rng.rekey: Philox4x32-10 of (counter, key) into one lane's xoshiro state ----
const PHILOX_M0: u32 = 0xd2511f53
const PHILOX_M1: u32 = 0xcd9e8d57
const PHILOX_W0: u32 = 0x9e3779b9
const PHILOX_W1: u32 = 0xbb67ae85
const SEED_SALT: u32 = 0x5eed1c1

function rekeyLane(lane: i32, c0: u32, c1: u32, c2: u32, c3: u32, k0: u32, k1: u32): void {
  for (let round = 0; round < 10; round++) {
    const p0 = <u64>PHILOX_M0 * <u64>c0
    const p1 = <u64>PHILOX_M1 * <u64>c2
    const n0 = <u32>(p1 >> 32) ^ c1 ^ k0
    const n2 = <u32>(p0 >> 32) ^ c3 ^ k1
    c0 = n0
    c1 = <u32>p1
    c2 = n2
    c3 = <u32>p0
    k0 += PHILOX_W0
    k1 += PHILOX_W1
  }
  if ((c0 | c1 | c2 | c3) == 0) c0 = 1
  const at = RNG + (<usize>lane << 2)
  store<u32>(at, c0)
  store<u32>(at, c1, 16)
  store<u32>(at, c2, 32)
  store<u32>(at, c3, 48)
}

// ---- one lane's ziggurat beyond the rectangles (Rng.normalFrom), its state in g0…g3 ----
let g0: u32 = 0
let g1: u32 = 0
let g2: u32 = 0
let g3: u32 = 0

@inline function gNext(): u32 {
  let s0 = g0
  let s1 = g1
  let s2 = g2
  let s3 = g3
  const result = rotl<u32>(s1 * 5, 7) * 9
  const t = s1 << 9
  s2 ^= s0
  s3 ^= s1
  s1 ^= s2
  s0 ^= s3
  s2 ^= t
  g0 = s0
  g1 = s1
  g2 = s2
  g3 = rotl<u32>(s3, 11)
  return result
}

/** Rng.uniform. */
function gUniform(): f64 {
  const a = gNext() >>> 5
  const b = gNext() >>> 6
  return (<f64>a * 67108864 + <f64>b) / 9007199254740992
}

/** Rng.tail. */
function gTail(j: i32): f64 {
  let tx: f64
  let ty: f64
  do {
    tx = -jsLog(1 - gUniform()) / zigR
    ty = -jsLog(1 - gUniform())
  } while (ty + ty < tx * tx)
  return j > 0 ? zigR + tx : -zigR - tx
}

/**
 * Decides y < exp(z) as JavaScript's Math.exp would, from fastExp (within 2 ulp of Math.exp): only a y within 2^-46
 * (relative) of exp(z) asks Math.exp itself.
 */
const EXP_MARGIN: f64 = 1.4210854715202004e-14

/** Rng.normalFrom: the draw `first` failed its rectangle test. */
function gNormalFrom(first: u32): f64 {
  let u = first
  for (;;) {
    const layer = <usize>(u & <u32>zigMask)
    const j = (<i32>u) >> zigShift
    const x = <f64>j * load<f64>(ZIG + (layer << 4))
    if (abs<i32>(j) < load<i32>(ZIG + (layer << 4), 8)) return x
    if (layer == 0) return gTail(j)
    const f0 = load<f64>(ZIGF + (layer << 3))
    const y = f0 + gUniform() * (load<f64>(ZIGF + ((layer - 1) << 3)) - f0)
    const z = -0.5 * x * x
    const e = fastExp(z)
    if (y < e * (1 - EXP_MARGIN)) return x
    if (y <= e * (1 + EXP_MARGIN) && y < jsExp(z)) return x
    u = gNext()
  }
  return 0
}

// ---- four lanes' streams at once ----
@inline function rotl4(v: v128, r: i32): v128 {
  return v128.or(i32x4.shl(v, r), i32x4.shr_u(v, 32 - r))
}

/**
 * Rng.fillNormals on the four lanes: `count` normals each, lane L's m-th at (L < 2 ? a : b) + 16m + 8(L & 1). The
 * rectangle test runs in a loop of its own; a draw that fails it on some lane leaves the loop, which finishes that
 * lane's draw with its state taken out of the vectors.
 */
function fillNormals4(count: i32, a: usize, b: usize): void {
  let s0 = v128.load(RNG)
  let s1 = v128.load(RNG, 16)
  let s2 = v128.load(RNG, 32)
  let s3 = v128.load(RNG, 48)
  const five = i32x4.splat(5)
  const nine = i32x4.splat(9)
  const layerBits = i32x4.splat(zigMask)
  const shift = zigShift
  const layers = ZIG
  let u = i32x4.splat(0)
  let ok = i32x4.splat(0)
  let m = 0
  while (m < count) {
    for (; m < count; m++) {
      u = i32x4.mul(rotl4(i32x4.mul(s1, five), 7), nine)
      const t = i32x4.shl(s1, 9)
      s2 = v128.xor(s2, s0)
      s3 = v128.xor(s3, s1)
      s1 = v128.xor(s1, s2)
      s0 = v128.xor(s0, s3)
      s2 = v128.xor(s2, t)
      s3 = rotl4(s3, 11)
      const layer = i32x4.shl(v128.and(u, layerBits), 4)
      const j = i32x4.shr_s(u, shift)
      const l0 = layers + <usize>i32x4.extract_lane(layer, 0)
      const l1 = layers + <usize>i32x4.extract_lane(layer, 1)
      const l2 = layers + <usize>i32x4.extract_lane(layer, 2)
      const l3 = layers + <usize>i32x4.extract_lane(layer, 3)
      let k = v128.load32_zero(l0, 8)
      k = v128.load32_lane(l1, k, 1, 8)
      k = v128.load32_lane(l2, k, 2, 8)
      k = v128.load32_lane(l3, k, 3, 8)
      ok = i32x4.lt_s(i32x4.abs(j), k)
      const wa = v128.load64_lane(l1, v128.load64_zero(l0), 1)
      const wb = v128.load64_lane(l3, v128.load64_zero(l2), 1)
      const at = <usize>m << 4
      v128.store(a + at, f64x2.mul(f64x2.convert_low_i32x4_s(j), wa))
      v128.store(b + at, f64x2.mul(f64x2.convert_low_i32x4_s(v128.shuffle<i32>(j, j, 2, 3, 2, 3)), wb))
      if (!i32x4.all_true(ok)) break
    }
    if (m == count) break
    const at = <usize>m << 4
    if (i32x4.extract_lane(ok, 0) == 0) {
      g0 = i32x4.extract_lane(s0, 0)
      g1 = i32x4.extract_lane(s1, 0)
      g2 = i32x4.extract_lane(s2, 0)
      g3 = i32x4.extract_lane(s3, 0)
      store<f64>(a + at, gNormalFrom(i32x4.extract_lane(u, 0)))
      s0 = i32x4.replace_lane(s0, 0, g0)
      s1 = i32x4.replace_lane(s1, 0, g1)
      s2 = i32x4.replace_lane(s2, 0, g2)
      s3 = i32x4.replace_lane(s3, 0, g3)
    }
    if (i32x4.extract_lane(ok, 1) == 0) {
      g0 = i32x4.extract_lane(s0, 1)
      g1 = i32x4.extract_lane(s1, 1)
      g2 = i32x4.extract_lane(s2, 1)
      g3 = i32x4.extract_lane(s3, 1)
      store<f64>(a + at, gNormalFrom(i32x4.extract_lane(u, 1)), 8)
      s0 = i32x4.replace_lane(s0, 1, g0)
      s1 = i32x4.replace_lane(s1, 1, g1)
      s2 = i32x4.replace_lane(s2, 1, g2)
      s3 = i32x4.replace_lane(s3, 1, g3)
    }
    if (i32x4.extract_lane(ok, 2) == 0) {
      g0 = i32x4.extract_lane(s0, 2)
      g1 = i32x4.extract_lane(s1, 2)
      g2 = i32x4.extract_lane(s2, 2)
      g3 = i32x4.extract_lane(s3, 2)
      store<f64>(b + at, gNormalFrom(i32x4.extract_lane(u, 2)))
      s0 = i32x4.replace_lane(s0, 2, g0)
      s1 = i32x4.replace_lane(s1, 2, g1)
      s2 = i32x4.replace_lane(s2, 2, g2)
      s3 = i32x4.replace_lane(s3, 2, g3)
    }
    if (i32x4.extract_lane(ok, 3) == 0) {
      g0 = i32x4.extract_lane(s0, 3)
      g1 = i32x4.extract_lane(s1, 3)
      g2 = i32x4.extract_lane(s2, 3)
      g3 = i32x4.extract_lane(s3, 3)
      store<f64>(b + at, gNormalFrom(i32x4.extract_lane(u, 3)), 8)
      s0 = i32x4.replace_lane(s0, 3, g0)
      s1 = i32x4.replace_lane(s1, 3, g1)
      s2 = i32x4.replace_lane(s2, 3, g2)
      s3 = i32x4.replace_lane(s3, 3, g3)
    }
    m++
  }
  v128.store(RNG, s0)
  v128.store(RNG, s1, 16)
  v128.store(RNG, s2, 32)
  v128.store(RNG, s3, 48)
}

/** Rng.fillInts(k) on the four lanes: lane L's i-th draw at (L < 2 ? a : b) + 8i + 4(L & 1). */
function fillInts4(count: i32, k: i32, a: usize, b: usize): void {
  let s0 = v128.load(RNG)
  let s1 = v128.load(RNG, 16)
  let s2 = v128.load(RNG, 32)
  let s3 = v128.load(RNG, 48)
  const five = i32x4.splat(5)
  const nine = i32x4.splat(9)
  const scale = f64x2.splat(2.3283064365386963e-10)
  const kk = f64x2.splat(<f64>k)
  for (let i = 0; i < count; i++) {
    const u = i32x4.mul(rotl4(i32x4.mul(s1, five), 7), nine)
    const t = i32x4.shl(s1, 9)
    s2 = v128.xor(s2, s0)
    s3 = v128.xor(s3, s1)
    s1 = v128.xor(s1, s2)
    s0 = v128.xor(s0, s3)
    s2 = v128.xor(s2, t)
    s3 = rotl4(s3, 11)
    const ua = f64x2.convert_low_i32x4_u(u)
    const ub = f64x2.convert_low_i32x4_u(v128.shuffle<i32>(u, u, 2, 3, 2, 3))
    const ia = i32x4.trunc_sat_f64x2_s_zero(f64x2.floor(f64x2.mul(f64x2.mul(ua, scale), kk)))
    const ib = i32x4.trunc_sat_f64x2_s_zero(f64x2.floor(f64x2.mul(f64x2.mul(ub, scale), kk)))
    v128.store64_lane(a + (<usize>i << 3), ia, 0)
    v128.store64_lane(b + (<usize>i << 3), ib, 0)
  }
  v128.store(RNG, s0)
  v128.store(RNG, s1, 16)
  v128.store(RNG, s2, 32)
  v128.store(RNG, s3, 48)
}

/** Task.normalize on the C class vectors of one pair, in place (a zero vector becomes (1, 0, …, 0) as it was). */
function normalizeClasses(cv: usize): void {
  const one = f64x2.splat(1)
  const zero = f64x2.splat(0)
  const rowBytes = <usize>d << 4
  for (let c = 0; c < C; c++) {
    const row = cv + <usize>c * rowBytes
    const v0 = v128.load(row)
    let squares = f64x2.mul(v0, v0)
    for (let k: usize = 16; k < rowBytes; k += 16) {
      const v = v128.load(row + k)
      squares = f64x2.add(squares, f64x2.mul(v, v))
    }
    const inverse = f64x2.div(one, f64x2.sqrt(squares))
    const isZero = f64x2.eq(squares, zero)
    v128.store(row, v128.bitselect(one, f64x2.mul(v0, inverse), isZero))
    for (let k: usize = 16; k < rowBytes; k += 16) {
      const v = v128.load(row + k)
      v128.store(row + k, v128.bitselect(v, f64x2.mul(v, inverse), isZero))
    }
  }
}

/**
 * aroundClasses4's step at d = 5 for one pair's point, unrolled (a fifth faster than the loop: sampling 0.54 → 0.45 ms
 * per batch of 512 at n = 100): class vector rows c0 (lane 0) and c1 (lane 1), the point's noise at o. Returns the
 * squared norms.
 */
@inline function around2(c0: usize, c1: usize, o: usize, scale: v128, one: v128): v128 {
  const v0 = f64x2.add(v128.load64_lane(c1, v128.load64_zero(c0), 1), f64x2.mul(scale, v128.load(o)))
  const v1 = f64x2.add(v128.load64_lane(c1 + 16, v128.load64_zero(c0 + 16), 1), f64x2.mul(scale, v128.load(o, 16)))
  const v2 = f64x2.add(v128.load64_lane(c1 + 32, v128.load64_zero(c0 + 32), 1), f64x2.mul(scale, v128.load(o, 32)))
  const v3 = f64x2.add(v128.load64_lane(c1 + 48, v128.load64_zero(c0 + 48), 1), f64x2.mul(scale, v128.load(o, 48)))
  const v4 = f64x2.add(v128.load64_lane(c1 + 64, v128.load64_zero(c0 + 64), 1), f64x2.mul(scale, v128.load(o, 64)))
  let s = f64x2.mul(v0, v0)
  s = f64x2.add(s, f64x2.mul(v1, v1))
  s = f64x2.add(s, f64x2.mul(v2, v2))
  s = f64x2.add(s, f64x2.mul(v3, v3))
  s = f64x2.add(s, f64x2.mul(v4, v4))
  const inv = f64x2.div(one, f64x2.sqrt(s))
  v128.store(o, f64x2.mul(v0, inv))
  v128.store(o, f64x2.mul(v1, inv), 16)
  v128.store(o, f64x2.mul(v2, inv), 32)
  v128.store(o, f64x2.mul(v3, inv), 48)
  v128.store(o, f64x2.mul(v4, inv), 64)
  return s
}

/**
 * Task's aroundClasses on two pairs: out ← normalize(μ_label + (ε/√d)·out) for `count` points, labels at labA / labB
 * ([point][lane] i32), class vectors at cvA / cvB. The same operations in the same order at every d; d = 5 (the
 * paper's setting) unrolled.
 */
function aroundClasses4(cvA: usize, cvB: usize, labA: usize, labB: usize, outA: usize, outB: usize, count: i32): void {
  if (d == 5) {
    const scale = f64x2.splat(noiseScale)
    const one = f64x2.splat(1)
    const zero = f64x2.splat(0)
    const rowBytes: usize = 80
    for (let p = 0; p < count; p++) {
      const oa = outA + <usize>p * rowBytes
      const ob = outB + <usize>p * rowBytes
      const la = labA + (<usize>p << 3)
      const lb = labB + (<usize>p << 3)
      const sa = around2(cvA + <usize>load<i32>(la) * rowBytes, cvA + <usize>load<i32>(la, 4) * rowBytes + 8, oa, scale, one)
      const sb = around2(cvB + <usize>load<i32>(lb) * rowBytes, cvB + <usize>load<i32>(lb, 4) * rowBytes + 8, ob, scale, one)
      if (v128.any_true(v128.or(f64x2.eq(sa, zero), f64x2.eq(sb, zero)))) {
        if (f64x2.extract_lane(sa, 0) == 0) atOrigin(oa)
        if (f64x2.extract_lane(sa, 1) == 0) atOrigin(oa + 8)
        if (f64x2.extract_lane(sb, 0) == 0) atOrigin(ob)
        if (f64x2.extract_lane(sb, 1) == 0) atOrigin(ob + 8)
      }
    }
    return
  }
  aroundClassesAny(cvA, cvB, labA, labB, outA, outB, count)
}

function aroundClassesAny(cvA: usize, cvB: usize, labA: usize, labB: usize, outA: usize, outB: usize, count: i32): void {
  const scale = f64x2.splat(noiseScale)
  const one = f64x2.splat(1)
  const zero = f64x2.splat(0)
  const rowBytes = <usize>d << 4
  for (let p = 0; p < count; p++) {
    const oa = outA + <usize>p * rowBytes
    const ob = outB + <usize>p * rowBytes
    const la = labA + (<usize>p << 3)
    const lb = labB + (<usize>p << 3)
    const c0 = cvA + <usize>load<i32>(la) * rowBytes
    const c1 = cvA + <usize>load<i32>(la, 4) * rowBytes + 8
    const c2 = cvB + <usize>load<i32>(lb) * rowBytes
    const c3 = cvB + <usize>load<i32>(lb, 4) * rowBytes + 8
    let sa = zero
    let sb = zero
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const va = f64x2.add(v128.load64_lane(c1 + k, v128.load64_zero(c0 + k), 1), f64x2.mul(scale, v128.load(oa + k)))
      const vb = f64x2.add(v128.load64_lane(c3 + k, v128.load64_zero(c2 + k), 1), f64x2.mul(scale, v128.load(ob + k)))
      v128.store(oa + k, va)
      v128.store(ob + k, vb)
      sa = k == 0 ? f64x2.mul(va, va) : f64x2.add(sa, f64x2.mul(va, va))
      sb = k == 0 ? f64x2.mul(vb, vb) : f64x2.add(sb, f64x2.mul(vb, vb))
    }
    const ia = f64x2.div(one, f64x2.sqrt(sa))
    const ib = f64x2.div(one, f64x2.sqrt(sb))
    for (let k: usize = 0; k < rowBytes; k += 16) {
      v128.store(oa + k, f64x2.mul(v128.load(oa + k), ia))
      v128.store(ob + k, f64x2.mul(v128.load(ob + k), ib))
    }
    // A point exactly at the origin becomes (1, 0, …, 0), as in the JavaScript sampler.
    if (v128.any_true(v128.or(f64x2.eq(sa, zero), f64x2.eq(sb, zero)))) {
      if (f64x2.extract_lane(sa, 0) == 0) atOrigin(oa)
      if (f64x2.extract_lane(sa, 1) == 0) atOrigin(oa + 8)
      if (f64x2.extract_lane(sb, 0) == 0) atOrigin(ob)
      if (f64x2.extract_lane(sb, 1) == 0) atOrigin(ob + 8)
    }
  }
}

function atOrigin(lane: usize): void {
  store<f64>(lane, 1)
  for (let k = 1; k < d; k++) store<f64>(lane + (<usize>k << 4), 0)
}

/**
 * Tasks [first, first + count) of the sequence keyed by (seed, stream, counter) (Task.sampleTasks) into the chunk's
 * layout, with the normals of the `layers`-layer ziggurat (Task.normalsOf): the cluster family with labels drawn
 * independently and any query class. Lanes past `count` sample tasks that are never used.
 */
export function sampleClusterTasks(seedLo: u32, seedHi: u32, stream: u32, counter: u32, first: u32, count: i32, layers: i32): void {
  useZiggurat(layers)
  const quads = (count + 3) >> 2
  const xPair = <usize>(n * d) << 4
  const labPair = <usize>n << 3
  const qPair = <usize>d << 4
  const cvA = CV
  const cvB = CV + (<usize>(C * d) << 4)
  for (let quad = 0; quad < quads; quad++) {
    for (let lane = 0; lane < 4; lane++) rekeyLane(lane, counter, first + <u32>(quad * 4 + lane), stream, seedHi, seedLo, SEED_SALT)
    const pa = <usize>(quad * 2)
    const pb = pa + 1
    // The class vectors: C points uniform on the sphere.
    fillNormals4(C * d, cvA, cvB)
    normalizeClasses(cvA)
    normalizeClasses(cvB)
    // The context: labels, then each point around its class vector.
    const labA = LAB + pa * labPair
    const labB = LAB + pb * labPair
    fillInts4(n, C, labA, labB)
    const xA = X + pa * xPair
    const xB = X + pb * xPair
    fillNormals4(n * d, xA, xB)
    aroundClasses4(cvA, cvB, labA, labB, xA, xB, n)
    // The query: its label, then its point.
    const qlA = QL + (pa << 3)
    const qlB = QL + (pb << 3)
    fillInts4(1, C, qlA, qlB)
    const qA = Q + pa * qPair
    const qB = Q + pb * qPair
    fillNormals4(d, qA, qB)
    aroundClasses4(cvA, cvB, qlA, qlB, qA, qB, 1)
  }
}

// ---- FastExp (src/domain/FastExp.ts), bit for bit ----
const INV_LN2_64: f64 = 64 / 0.6931471805599453
const ROUND: f64 = 6755399441055744
const LN2_64_HI: f64 = 6.9314718036912381649e-1 / 64
const LN2_64_LO: f64 = 1.90821492927058770002e-10 / 64

function fastExp(x: f64): f64 {
  const y = x < -746 ? -746 : x > 710 ? 710 : x
  const kd = y * INV_LN2_64 + ROUND - ROUND
  const k = <i32>kd
  const r = y - kd * LN2_64_HI - kd * LN2_64_LO
  const p = 1 + r * (1 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120)))))
  return load<f64>(EXPM + (<usize>((k >> 6) + 1100) << 3)) * (load<f64>(EXPJ + (<usize>(k & 63) << 3)) * p)
}

/** fastExp on both lanes. */
@inline function fastExp2(x: v128): v128 {
  const y = f64x2.pmin(f64x2.pmax(x, f64x2.splat(-746)), f64x2.splat(710))
  const kd = f64x2.sub(f64x2.add(f64x2.mul(y, f64x2.splat(INV_LN2_64)), f64x2.splat(ROUND)), f64x2.splat(ROUND))
  const k = i32x4.trunc_sat_f64x2_s_zero(kd)
  const r = f64x2.sub(f64x2.sub(y, f64x2.mul(kd, f64x2.splat(LN2_64_HI))), f64x2.mul(kd, f64x2.splat(LN2_64_LO)))
  let p = f64x2.add(f64x2.splat(1.0 / 24), f64x2.mul(r, f64x2.splat(1.0 / 120)))
  p = f64x2.add(f64x2.splat(1.0 / 6), f64x2.mul(r, p))
  p = f64x2.add(f64x2.splat(0.5), f64x2.mul(r, p))
  p = f64x2.add(f64x2.splat(1), f64x2.mul(r, p))
  p = f64x2.add(f64x2.splat(1), f64x2.mul(r, p))
  const m = i32x4.add(i32x4.shr_s(k, 6), i32x4.splat(1100))
  const j = v128.and(k, i32x4.splat(63))
  const tm = v128.load64_lane(EXPM + (<usize>i32x4.extract_lane(m, 1) << 3), v128.load64_zero(EXPM + (<usize>i32x4.extract_lane(m, 0) << 3)), 1)
  const tj = v128.load64_lane(EXPJ + (<usize>i32x4.extract_lane(j, 1) << 3), v128.load64_zero(EXPJ + (<usize>i32x4.extract_lane(j, 0) << 3)), 1)
  return f64x2.mul(tm, f64x2.mul(tj, p))
}

/** (values[label₀] on lane 0, values[label₁] on lane 1) for a [c][lane] table and a key's two labels. */
@inline function gather2(values: usize, labels: usize): v128 {
  const v = v128.load64_zero(values + (<usize>load<i32>(labels) << 4))
  return v128.load64_lane(values + (<usize>load<i32>(labels, 4) << 4) + 8, v, 1)
}

/** values[label] += value, lane by lane. */
@inline function scatterAdd2(values: usize, labels: usize, value: v128): void {
  const a0 = values + (<usize>load<i32>(labels) << 4)
  const a1 = values + (<usize>load<i32>(labels, 4) << 4) + 8
  store<f64>(a0, load<f64>(a0) + f64x2.extract_lane(value, 0))
  store<f64>(a1, load<f64>(a1) + f64x2.extract_lane(value, 1))
}

/**
 * Σ_k x[k] · w[k] over the d inputs of a key or query at `x` and a [k][lane] vector at `w`, in k order (`rowBytes` =
 * 16 d, passed by the hot loops so that it stays in a register).
 */
@inline function dotInputs(x: usize, w: usize, rowBytes: usize = <usize>d << 4): v128 {
  let s = f64x2.mul(v128.load(x), v128.load(w))
  for (let k: usize = 16; k < rowBytes; k += 16) s = f64x2.add(s, f64x2.mul(v128.load(x + k), v128.load(w + k)))
  return s
}

/** acc[k] += a · x[k] over the d inputs. */
@inline function addScaledInputs(acc: usize, a: v128, x: usize, rowBytes: usize = <usize>d << 4): void {
  for (let k: usize = 0; k < rowBytes; k += 16) v128.store(acc + k, f64x2.add(v128.load(acc + k), f64x2.mul(a, v128.load(x + k))))
}

/** The attention weight of a key from its raw score (linear, exp). */
@inline function weightOf(s: v128): v128 {
  const count = f64x2.splat(<f64>n)
  return attention == 0 ? f64x2.div(s, count) : f64x2.div(fastExp2(f64x2.sub(f64x2.mul(s, f64x2.splat(invSqrtD)), f64x2.splat(expShift))), count)
}

/** The score's gradient from the weight's (linear: /n; exp: ·a/√D; softmax: a/Z·(g − Σ a g)/√D). */
@inline function scoreGradient(a: v128, ga: v128, inv: v128, dot: v128): v128 {
  const isd = f64x2.splat(invSqrtD)
  if (attention == 0) return f64x2.div(ga, f64x2.splat(<f64>n))
  if (attention == 1) return f64x2.mul(f64x2.mul(ga, a), isd)
  return f64x2.mul(f64x2.mul(f64x2.mul(a, inv), f64x2.sub(ga, dot)), isd)
}

/** h's entry r (x part, then label part) on one lane. */
@inline function hAt(r: i32, lane: usize): f64 {
  return r < d ? load<f64>(H + (<usize>r << 4) + lane) : load<f64>(HY + (<usize>(r - d) << 4) + lane)
}

/**
 * The logits, the cross-entropy and g_z = (p − onehot)/B of a pair's tasks, lane by lane in task order, adding the
 * loss to lossSum and g_z hᵀ to W_PV's gradient.
 */
function logitsAndLoss(pair: i32, tasks: i32, B: f64): void {
  // The logits of both lanes at once: z_c = Σ_r W_PV[d + c][r] h[r] in r order, as each lane's own loop sums them.
  for (let c = 0; c < C; c++) {
    const row = PV + (<usize>((d + c) * D) << 3)
    let z = f64x2.mul(f64x2.splat(load<f64>(row)), v128.load(H))
    for (let r = 1; r < d; r++) z = f64x2.add(z, f64x2.mul(f64x2.splat(load<f64>(row + (<usize>r << 3))), v128.load(H + (<usize>r << 4))))
    for (let r = d; r < D; r++) z = f64x2.add(z, f64x2.mul(f64x2.splat(load<f64>(row + (<usize>r << 3))), v128.load(HY + (<usize>(r - d) << 4))))
    v128.store(GZ + (<usize>c << 4), z)
  }
  for (let lane = 0; lane < tasks; lane++) {
    const off = <usize>lane << 3
    const target = load<i32>(QL + (<usize>pair << 3) + (<usize>lane << 2))
    let zm: f64 = 0
    for (let c = 0; c < C; c++) {
      const z = load<f64>(GZ + (<usize>c << 4) + off)
      if (c == 0 || z > zm) zm = z
    }
    let total: f64 = 0
    for (let c = 0; c < C; c++) total += jsExp(load<f64>(GZ + (<usize>c << 4) + off) - zm)
    const lse = zm + jsLog(total)
    lossSum += lse - load<f64>(GZ + (<usize>target << 4) + off)
    for (let c = 0; c < C; c++) {
      const gz = (jsExp(load<f64>(GZ + (<usize>c << 4) + off) - lse) - (target == c ? 1.0 : 0.0)) / B
      store<f64>(GZ + (<usize>c << 4) + off, gz)
    }
  }
  // ∇W_PV[d + c][r] += g_z,c h[r]: lane 0's product, then lane 1's, as the lanes' tasks come in order.
  for (let c = 0; c < C; c++) {
    const gz = v128.load(GZ + (<usize>c << 4))
    const row = GPV + (<usize>((d + c) * D) << 3)
    for (let r = 0; r < D; r++) {
      const p = f64x2.mul(gz, v128.load(r < d ? H + (<usize>r << 4) : HY + (<usize>(r - d) << 4)))
      const at = row + (<usize>r << 3)
      const once = load<f64>(at) + f64x2.extract_lane(p, 0)
      store<f64>(at, tasks == 2 ? once + f64x2.extract_lane(p, 1) : once)
    }
  }
}

/** (W_PV[d:, :]ᵀ g_z)[r] on both lanes, summed over c in order. */
function ghEntry(r: i32): v128 {
  let s = f64x2.mul(f64x2.splat(load<f64>(PV + (<usize>(d * D + r) << 3))), v128.load(GZ))
  for (let c = 1; c < C; c++) s = f64x2.add(s, f64x2.mul(f64x2.splat(load<f64>(PV + (<usize>((d + c) * D + r) << 3))), v128.load(GZ + (<usize>c << 4))))
  return s
}

// ---- the key loops at d = 5, unrolled, with u, h, g_h and g_u in locals (the same operations in the same order) ----

/** Softmax: the keys' scores (x_j·u + u_y[label]) / √D into SC, and their maximum. */
function scores5(xb: usize, lb: usize, keys: i32, isd: v128): v128 {
  const u0 = v128.load(GU)
  const u1 = v128.load(GU, 16)
  const u2 = v128.load(GU, 32)
  const u3 = v128.load(GU, 48)
  const u4 = v128.load(GU, 64)
  let mx = f64x2.splat(-Infinity)
  for (let i = 0; i < keys; i++) {
    const x = xb + <usize>i * 80
    let s = f64x2.mul(v128.load(x), u0)
    s = f64x2.add(s, f64x2.mul(v128.load(x, 16), u1))
    s = f64x2.add(s, f64x2.mul(v128.load(x, 32), u2))
    s = f64x2.add(s, f64x2.mul(v128.load(x, 48), u3))
    s = f64x2.add(s, f64x2.mul(v128.load(x, 64), u4))
    s = f64x2.mul(f64x2.add(s, gather2(UY, lb + (<usize>i << 3))), isd)
    v128.store(SC + (<usize>i << 4), s)
    mx = f64x2.pmax(mx, s)
  }
  return mx
}

/** The keys' weights a_j into SC, h's x part Σ_j a_j x_j into H and its label part into HY; returns Σ_j a_j. */
function weights5(xb: usize, lb: usize, keys: i32, mx: v128): v128 {
  const u0 = v128.load(GU)
  const u1 = v128.load(GU, 16)
  const u2 = v128.load(GU, 32)
  const u3 = v128.load(GU, 48)
  const u4 = v128.load(GU, 64)
  let h0 = v128.load(H)
  let h1 = v128.load(H, 16)
  let h2 = v128.load(H, 32)
  let h3 = v128.load(H, 48)
  let h4 = v128.load(H, 64)
  let tot = f64x2.splat(0)
  for (let i = 0; i < keys; i++) {
    const x = xb + <usize>i * 80
    const labels = lb + (<usize>i << 3)
    const x0 = v128.load(x)
    const x1 = v128.load(x, 16)
    const x2 = v128.load(x, 32)
    const x3 = v128.load(x, 48)
    const x4 = v128.load(x, 64)
    let a: v128
    if (attention == 2) a = fastExp2(f64x2.sub(v128.load(SC + (<usize>i << 4)), mx))
    else {
      let s = f64x2.mul(x0, u0)
      s = f64x2.add(s, f64x2.mul(x1, u1))
      s = f64x2.add(s, f64x2.mul(x2, u2))
      s = f64x2.add(s, f64x2.mul(x3, u3))
      s = f64x2.add(s, f64x2.mul(x4, u4))
      a = weightOf(f64x2.add(s, gather2(UY, labels)))
    }
    v128.store(SC + (<usize>i << 4), a)
    tot = f64x2.add(tot, a)
    h0 = f64x2.add(h0, f64x2.mul(a, x0))
    h1 = f64x2.add(h1, f64x2.mul(a, x1))
    h2 = f64x2.add(h2, f64x2.mul(a, x2))
    h3 = f64x2.add(h3, f64x2.mul(a, x3))
    h4 = f64x2.add(h4, f64x2.mul(a, x4))
    scatterAdd2(HY, labels, a)
  }
  v128.store(H, h0)
  v128.store(H, h1, 16)
  v128.store(H, h2, 32)
  v128.store(H, h3, 48)
  v128.store(H, h4, 64)
  return tot
}

/** Backward over the keys: g_a_j = x_j·g_h + g_h,y[label], the score's gradient, g_u += g_score_j e_j (label part in HY). */
function backward5(xb: usize, lb: usize, keys: i32, inv: v128, dot: v128): void {
  const g0 = v128.load(GH)
  const g1 = v128.load(GH, 16)
  const g2 = v128.load(GH, 32)
  const g3 = v128.load(GH, 48)
  const g4 = v128.load(GH, 64)
  let u0 = v128.load(GU)
  let u1 = v128.load(GU, 16)
  let u2 = v128.load(GU, 32)
  let u3 = v128.load(GU, 48)
  let u4 = v128.load(GU, 64)
  for (let i = 0; i < keys; i++) {
    const x = xb + <usize>i * 80
    const labels = lb + (<usize>i << 3)
    const x0 = v128.load(x)
    const x1 = v128.load(x, 16)
    const x2 = v128.load(x, 32)
    const x3 = v128.load(x, 48)
    const x4 = v128.load(x, 64)
    let s = f64x2.mul(x0, g0)
    s = f64x2.add(s, f64x2.mul(x1, g1))
    s = f64x2.add(s, f64x2.mul(x2, g2))
    s = f64x2.add(s, f64x2.mul(x3, g3))
    s = f64x2.add(s, f64x2.mul(x4, g4))
    const g = scoreGradient(v128.load(SC + (<usize>i << 4)), f64x2.add(s, gather2(GHY, labels)), inv, dot)
    u0 = f64x2.add(u0, f64x2.mul(g, x0))
    u1 = f64x2.add(u1, f64x2.mul(g, x1))
    u2 = f64x2.add(u2, f64x2.mul(g, x2))
    u3 = f64x2.add(u3, f64x2.mul(g, x3))
    u4 = f64x2.add(u4, f64x2.mul(g, x4))
    scatterAdd2(HY, labels, g)
  }
  v128.store(GU, u0)
  v128.store(GU, u1, 16)
  v128.store(GU, u2, 32)
  v128.store(GU, u3, 48)
  v128.store(GU, u4, 64)
}

/**
 * The mean cross-entropy of the chunk's `count` tasks as a share of a batch of B, and its gradient (written to
 * GKQ and GPV): FusedKernel's loop over tasks, two tasks at a time.
 */
export function lossAndGradient(count: i32, B: f64): f64 {
  memory.fill(GKQ, 0, <usize>(D * D) << 3)
  memory.fill(GPV, 0, <usize>(D * D) << 3)
  lossSum = 0
  const zero = f64x2.splat(0)
  const isd = f64x2.splat(invSqrtD)
  const rowBytes = <usize>d << 4
  const pairs = (count + 1) >> 1
  // The context's keys, in a local (n is a global, which the loops would load again each time).
  const keys = n
  for (let pair = 0; pair < pairs; pair++) {
    const tasks = pair * 2 + 1 < count ? 2 : 1
    const xb = X + <usize>(pair * n) * rowBytes
    const lb = LAB + (<usize>(pair * n) << 3)
    const qb = Q + <usize>pair * rowBytes
    // u = W_KQ e_q (only e_q's x part is non-zero): the x part in GU for now, the label part in UY.
    for (let r = 0; r < D; r++) {
      let s = f64x2.mul(f64x2.splat(load<f64>(KQ + (<usize>(r * D) << 3))), v128.load(qb))
      for (let k = 1; k < d; k++) s = f64x2.add(s, f64x2.mul(f64x2.splat(load<f64>(KQ + (<usize>(r * D + k) << 3))), v128.load(qb + (<usize>k << 4))))
      v128.store(r < d ? GU + (<usize>r << 4) : UY + (<usize>(r - d) << 4), s)
    }
    memory.fill(H, 0, rowBytes)
    memory.fill(HY, 0, <usize>C << 4)
    // Softmax: the scores and their maximum first.
    let mx = f64x2.splat(-Infinity)
    if (attention == 2) {
      if (d == 5) mx = scores5(xb, lb, keys, isd)
      else
        for (let i = 0; i < keys; i++) {
          const s = f64x2.mul(f64x2.add(dotInputs(xb + <usize>i * rowBytes, GU, rowBytes), gather2(UY, lb + (<usize>i << 3))), isd)
          v128.store(SC + (<usize>i << 4), s)
          mx = f64x2.pmax(mx, s)
        }
      if (attendToQuery) {
        const s = f64x2.mul(dotInputs(qb, GU, rowBytes), isd)
        v128.store(SC + (<usize>n << 4), s)
        mx = f64x2.pmax(mx, s)
      }
    }
    // The weights a_j and h = Σ_j a_j e_j.
    let tot = zero
    if (d == 5) tot = weights5(xb, lb, keys, mx)
    else
      for (let i = 0; i < keys; i++) {
        const x = xb + <usize>i * rowBytes
        const labels = lb + (<usize>i << 3)
        const a =
          attention == 2 ? fastExp2(f64x2.sub(v128.load(SC + (<usize>i << 4)), mx)) : weightOf(f64x2.add(dotInputs(x, GU, rowBytes), gather2(UY, labels)))
        v128.store(SC + (<usize>i << 4), a)
        tot = f64x2.add(tot, a)
        addScaledInputs(H, a, x, rowBytes)
        scatterAdd2(HY, labels, a)
      }
    if (attendToQuery) {
      const a = attention == 2 ? fastExp2(f64x2.sub(v128.load(SC + (<usize>n << 4)), mx)) : weightOf(dotInputs(qb, GU, rowBytes))
      v128.store(SC + (<usize>n << 4), a)
      tot = f64x2.add(tot, a)
      addScaledInputs(H, a, qb, rowBytes)
    }
    let inv = zero
    if (attention == 2) {
      inv = f64x2.div(f64x2.splat(1), tot)
      for (let k: usize = 0; k < rowBytes; k += 16) v128.store(H + k, f64x2.mul(v128.load(H + k), inv))
      for (let c: usize = 0; c < (<usize>C << 4); c += 16) v128.store(HY + c, f64x2.mul(v128.load(HY + c), inv))
    }
    logitsAndLoss(pair, tasks, B)
    // g_h = W_PV[d:, :]ᵀ g_z; for softmax, Σ_j a_j g_a_j = hᵀ g_h.
    for (let r = 0; r < D; r++) v128.store(r < d ? GH + (<usize>r << 4) : GHY + (<usize>(r - d) << 4), ghEntry(r))
    let dot = zero
    if (attention == 2) {
      dot = dotInputs(H, GH, rowBytes)
      for (let c: usize = 0; c < (<usize>C << 4); c += 16) dot = f64x2.add(dot, f64x2.mul(v128.load(HY + c), v128.load(GHY + c)))
    }
    // Backward over the keys: g_a_j = e_jᵀ g_h, the score's gradient, g_u += g_score_j e_j (its label part in HY).
    memory.fill(GU, 0, rowBytes)
    memory.fill(HY, 0, <usize>C << 4)
    if (d == 5) backward5(xb, lb, keys, inv, dot)
    else
      for (let i = 0; i < keys; i++) {
        const x = xb + <usize>i * rowBytes
        const labels = lb + (<usize>i << 3)
        const ga = f64x2.add(dotInputs(x, GH, rowBytes), gather2(GHY, labels))
        const g = scoreGradient(v128.load(SC + (<usize>i << 4)), ga, inv, dot)
        addScaledInputs(GU, g, x, rowBytes)
        scatterAdd2(HY, labels, g)
      }
    if (attendToQuery) {
      const g = scoreGradient(v128.load(SC + (<usize>n << 4)), dotInputs(qb, GH, rowBytes), inv, dot)
      addScaledInputs(GU, g, qb, rowBytes)
    }
    // ∇W_KQ += g_u e_qᵀ, lane by lane in task order.
    for (let lane = 0; lane < tasks; lane++) {
      const off = <usize>lane << 3
      for (let r = 0; r < D; r++) {
        const gr = r < d ? load<f64>(GU + (<usize>r << 4) + off) : load<f64>(HY + (<usize>(r - d) << 4) + off)
        const row = GKQ + (<usize>(r * D) << 3)
        for (let k = 0; k < d; k++) store<f64>(row + (<usize>k << 3), load<f64>(row + (<usize>k << 3)) + gr * load<f64>(qb + (<usize>k << 4) + off))
      }
    }
  }
  return lossSum / B
}

// ---- peak rates, for the bench's bound ----

/**
 * `rounds` rounds of the ziggurat's four-lane draw loop (rectangle failures included) into the chunk's context buffer,
 * each on four freshly keyed streams: the sampler's rate of normals.
 */
export function benchNormals(rounds: i32, count: i32, layers: i32): void {
  useZiggurat(layers)
  for (let r = 0; r < rounds; r++) {
    for (let lane = 0; lane < 4; lane++) rekeyLane(lane, <u32>r, <u32>lane, 2, 0, 7, SEED_SALT)
    fillNormals4(count, X, X + (<usize>count << 4))
  }
}

/**
 * 16 f64x2 multiply-adds (64 flops) per iteration on eight independent accumulators: the arithmetic peak of this
 * machine's WebAssembly SIMD (no fused multiply-add). Returns a sum so that nothing is optimised away.
 */
export function benchFlops(iterations: i32): f64 {
  let a0 = f64x2.splat(1)
  let a1 = f64x2.splat(2)
  let a2 = f64x2.splat(3)
  let a3 = f64x2.splat(4)
  let a4 = f64x2.splat(5)
  let a5 = f64x2.splat(6)
  let a6 = f64x2.splat(7)
  let a7 = f64x2.splat(8)
  const m = f64x2.splat(0.999999)
  const c = f64x2.splat(1e-9)
  for (let i = 0; i < iterations; i++) {
    a0 = f64x2.add(f64x2.mul(a0, m), c)
    a1 = f64x2.add(f64x2.mul(a1, m), c)
    a2 = f64x2.add(f64x2.mul(a2, m), c)
    a3 = f64x2.add(f64x2.mul(a3, m), c)
    a4 = f64x2.add(f64x2.mul(a4, m), c)
    a5 = f64x2.add(f64x2.mul(a5, m), c)
    a6 = f64x2.add(f64x2.mul(a6, m), c)
    a7 = f64x2.add(f64x2.mul(a7, m), c)
    a0 = f64x2.add(f64x2.mul(a0, m), c)
    a1 = f64x2.add(f64x2.mul(a1, m), c)
    a2 = f64x2.add(f64x2.mul(a2, m), c)
    a3 = f64x2.add(f64x2.mul(a3, m), c)
    a4 = f64x2.add(f64x2.mul(a4, m), c)
    a5 = f64x2.add(f64x2.mul(a5, m), c)
    a6 = f64x2.add(f64x2.mul(a6, m), c)
    a7 = f64x2.add(f64x2.mul(a7, m), c)
  }
  const s = f64x2.add(f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3)), f64x2.add(f64x2.add(a4, a5), f64x2.add(a6, a7)))
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1)
}

// ---- the GD references' grid search (GdMath.referenceFeatures without Jacobians, meanCrossEntropy, minimizeScale's
// derivatives), two tasks per vector, on a set loaded once per search ----
let refTasks: i32 = 0
let refN: i32 = 0
let refC: i32 = 0
let refSelfAttend: bool = false
let RD: usize = 0 // x_iᵀ x_q: [pair][i][lane] f64
let RL: usize = 0 // labels: [pair][i][lane] i32
let RQQ: usize = 0 // ‖x_q‖²: [pair][lane] f64 (ca-kgd attending to the query)
let RQL: usize = 0 // query labels: [task] i32
let RF: usize = 0 // features: [task][c] f64
let RK: usize = 0 // one pair's kernel values: [i][lane] f64
let RMAX: usize = 0 // per pair: the largest feature of each task, [pair][lane]
let RMIN: usize = 0 // per pair: the smallest feature of each task
let refG: f64 = 0
let refH: f64 = 0

/** Lays out a grid-search set of `tasks` tasks (n keys, C classes); JavaScript then fills its dots, labels and ‖x_q‖². */
export function configureReferences(tasks: i32, n_: i32, C_: i32, selfAttend: bool): void {
  refTasks = tasks
  refN = n_
  refC = C_
  refSelfAttend = selfAttend
  end = TABLES_END
  const pairs = (tasks + 1) >> 1
  RD = region(pairs * n_ * 16)
  RL = region(pairs * n_ * 8)
  RQQ = region(pairs * 16)
  RQL = region(pairs * 8)
  RF = region(pairs * 2 * C_ * 8)
  RK = region(n_ * 16)
  RMAX = region(pairs * 16)
  RMIN = region(pairs * 16)
  ensureMemory()
}

export function referenceDots(): usize {
  return RD
}
export function referenceLabels(): usize {
  return RL
}
export function referenceQueryNorms(): usize {
  return RQQ
}
export function referenceQueryLabels(): usize {
  return RQL
}
export function referenceFeaturesOut(): usize {
  return RF
}

/**
 * GdMath.referenceFeatures (no Jacobians) of the first `count` tasks at γ = c_σ/√D (kind: 0 gd-linear, 1 kgd-fixed,
 * 2 ca-kgd), into RF.
 */
export function referenceFeatures(kind: i32, gamma: f64, count: i32): void {
  memory.fill(RF, 0, <usize>(count * refC) << 3)
  const n = refN
  const C = refC
  const g = f64x2.splat(gamma)
  const nn = f64x2.splat(<f64>n)
  const pairs = (count + 1) >> 1
  for (let pair = 0; pair < pairs; pair++) {
    const tasks = pair * 2 + 1 < count ? 2 : 1
    const dots = RD + (<usize>(pair * n) << 4)
    const labels = RL + (<usize>(pair * n) << 3)
    const f0 = RF + (<usize>(pair * 2 * C) << 3)
    const f1 = f0 + (<usize>C << 3)
    if (kind == 2) {
      const gqq = f64x2.mul(g, v128.load(RQQ + (<usize>pair << 4)))
      let mx = refSelfAttend ? gqq : f64x2.splat(-Infinity)
      for (let i = 0; i < n; i++) mx = f64x2.max(mx, f64x2.mul(g, v128.load(dots + (<usize>i << 4))))
      let total = f64x2.splat(0)
      for (let i = 0; i < n; i++) {
        const k = fastExp2(f64x2.sub(f64x2.mul(g, v128.load(dots + (<usize>i << 4))), mx))
        v128.store(RK + (<usize>i << 4), k)
        total = f64x2.add(total, k)
      }
      total = f64x2.add(total, refSelfAttend ? fastExp2(f64x2.sub(gqq, mx)) : f64x2.splat(0))
      for (let i = 0; i < n; i++) {
        const w = f64x2.div(v128.load(RK + (<usize>i << 4)), total)
        addFeature(f0, labels + (<usize>i << 3), f64x2.extract_lane(w, 0))
        if (tasks == 2) addFeature(f1, labels + (<usize>i << 3) + 4, f64x2.extract_lane(w, 1))
      }
    } else {
      const shift = f64x2.splat(abs<f64>(gamma))
      for (let i = 0; i < n; i++) {
        const dot = v128.load(dots + (<usize>i << 4))
        const w = kind == 0 ? f64x2.div(dot, nn) : f64x2.div(fastExp2(f64x2.sub(f64x2.mul(g, dot), shift)), nn)
        addFeature(f0, labels + (<usize>i << 3), f64x2.extract_lane(w, 0))
        if (tasks == 2) addFeature(f1, labels + (<usize>i << 3) + 4, f64x2.extract_lane(w, 1))
      }
    }
  }
  featureExtremes(count)
}

/**
 * Each task's largest and smallest feature (NaN if any is NaN), for the largest logit of θ·S: max_c θ·S_c is θ·max S
 * for θ > 0 and θ·min S for θ < 0, to the bit (rounding is monotone), and either is ±0 for θ = 0.
 */
function featureExtremes(count: i32): void {
  const pairs = (count + 1) >> 1
  for (let pair = 0; pair < pairs; pair++) {
    const f0 = RF + (<usize>(pair * 2 * refC) << 3)
    let hi = featurePair(f0, 0)
    let lo = hi
    for (let c = 1; c < refC; c++) {
      const f = featurePair(f0, c)
      hi = f64x2.max(hi, f)
      lo = f64x2.min(lo, f)
    }
    v128.store(RMAX + (<usize>pair << 4), hi)
    v128.store(RMIN + (<usize>pair << 4), lo)
  }
}

/** The largest logit max_c θ·S_c of a pair's tasks (Math.max over c, as GdMath takes it). */
@inline function largestLogit(pair: i32, theta: f64): v128 {
  return f64x2.mul(f64x2.splat(theta), v128.load((theta < 0 ? RMIN : RMAX) + (<usize>pair << 4)))
}

@inline function addFeature(features: usize, label: usize, value: f64): void {
  const at = features + (<usize>load<i32>(label) << 3)
  store<f64>(at, load<f64>(at) + value)
}

/** (f[t][c], f[t + 1][c]) of a pair's features. */
@inline function featurePair(f0: usize, c: i32): v128 {
  return v128.load64_lane(f0 + (<usize>(refC + c) << 3), v128.load64_zero(f0 + (<usize>c << 3)), 1)
}

/** GdMath.meanCrossEntropy of logits θ·S over the first `count` tasks' features. */
export function referenceMeanCrossEntropy(theta: f64, count: i32): f64 {
  const C = refC
  const t = f64x2.splat(theta)
  let total: f64 = 0
  const pairs = (count + 1) >> 1
  for (let pair = 0; pair < pairs; pair++) {
    const tasks = pair * 2 + 1 < count ? 2 : 1
    const f0 = RF + (<usize>(pair * 2 * C) << 3)
    const mx = largestLogit(pair, theta)
    let sum = f64x2.splat(0)
    for (let c = 0; c < C; c++) sum = f64x2.add(sum, fastExp2(f64x2.sub(f64x2.mul(t, featurePair(f0, c)), mx)))
    const ql = RQL + (<usize>pair << 3)
    total += f64x2.extract_lane(mx, 0) + jsLog(f64x2.extract_lane(sum, 0)) - theta * load<f64>(f0 + (<usize>load<i32>(ql) << 3))
    if (tasks == 2) total += f64x2.extract_lane(mx, 1) + jsLog(f64x2.extract_lane(sum, 1)) - theta * load<f64>(f0 + (<usize>(C + load<i32>(ql, 4)) << 3))
  }
  return total / <f64>count
}

/** minimizeScale's f′(θ) and f″(θ) (times `count`: the sums) over the first `count` tasks, into refG and refH. */
export function referenceDerivatives(theta: f64, count: i32): void {
  const C = refC
  const t = f64x2.splat(theta)
  let g: f64 = 0
  let h: f64 = 0
  const pairs = (count + 1) >> 1
  for (let pair = 0; pair < pairs; pair++) {
    const tasks = pair * 2 + 1 < count ? 2 : 1
    const f0 = RF + (<usize>(pair * 2 * C) << 3)
    const mx = largestLogit(pair, theta)
    let sum = f64x2.splat(0)
    let m1 = f64x2.splat(0)
    let m2 = f64x2.splat(0)
    for (let c = 0; c < C; c++) {
      const s = featurePair(f0, c)
      const e = fastExp2(f64x2.sub(f64x2.mul(t, s), mx))
      sum = f64x2.add(sum, e)
      m1 = f64x2.add(m1, f64x2.mul(e, s))
      m2 = f64x2.add(m2, f64x2.mul(f64x2.mul(e, s), s))
    }
    m1 = f64x2.div(m1, sum)
    m2 = f64x2.div(m2, sum)
    const ql = RQL + (<usize>pair << 3)
    g += f64x2.extract_lane(m1, 0) - load<f64>(f0 + (<usize>load<i32>(ql) << 3))
    h += f64x2.extract_lane(m2, 0) - f64x2.extract_lane(m1, 0) * f64x2.extract_lane(m1, 0)
    if (tasks == 2) {
      g += f64x2.extract_lane(m1, 1) - load<f64>(f0 + (<usize>(C + load<i32>(ql, 4)) << 3))
      h += f64x2.extract_lane(m2, 1) - f64x2.extract_lane(m1, 1) * f64x2.extract_lane(m1, 1)
    }
  }
  refG = g
  refH = h
}

export function referenceGradient(): f64 {
  return refG
}
export function referenceCurvature(): f64 {
  return refH
}

// ---- evaluation: Model.forwardTask with ∂z/∂x_q, two contexts per vector, on contexts loaded once ----
let evalTasks: i32 = 0
let EX: usize = 0 // x: [pair][i][k][lane]
let EL: usize = 0 // labels: [pair][i][lane] i32
let EQ: usize = 0 // x_q: [pair][k][lane]
let EZ: usize = 0 // logits out: [task][c]
let EJ: usize = 0 // Jacobians out: [task][c][dir]
let MOM: usize = 0 // Σ_j c_j e_j e_jᵀ: [D][D][lane]
let DH: usize = 0 // ∂h/∂x_q: [r][dir][lane]
let GQ: usize = 0 // ∂s_q/∂x_q: [dir][lane]
let MT: usize = 0 // Σ_k a_k ∂s_k: [dir][lane]
let ATT: usize = 0 // attention weights: [key][lane]
let ZG: usize = 0 // ∂Z/∂x_q of ca-kgd: [dir][lane]
let JAC: usize = 0 // one pair's feature Jacobians: [c][dir][lane]
let FEAT: usize = 0 // one pair's features: [c][lane]

/**
 * Lays out room for `tasks` evaluation contexts of the shape (d, C, n), which JavaScript then loads (at
 * evaluationInputs and its siblings, in the chunk layout).
 */
export function configureEvaluation(d_: i32, C_: i32, n_: i32, tasks: i32): void {
  d = d_
  C = C_
  n = n_
  D = d + C
  invSqrtD = 1 / Math.sqrt(<f64>D)
  evalTasks = tasks
  end = TABLES_END
  const pairs = (tasks + 1) >> 1
  KQ = region(D * D * 8)
  PV = region(D * D * 8)
  EX = region(pairs * n * d * 16)
  EL = region(pairs * n * 8)
  EQ = region(pairs * d * 16)
  EZ = region(pairs * 2 * C * 8)
  EJ = region(pairs * 2 * C * d * 8)
  MOM = region(D * D * 16)
  DH = region(D * d * 16)
  GQ = region(d * 16)
  MT = region(d * 16)
  ATT = region((n + 1) * 16)
  ZG = region(d * 16)
  JAC = region(C * d * 16)
  FEAT = region(C * 16)
  SC = region((n + 1) * 16)
  UY = region(C * 16)
  HY = region(C * 16)
  H = region(d * 16)
  GU = region(d * 16)
  ensureMemory()
}

export function evaluationInputs(): usize {
  return EX
}
export function evaluationLabels(): usize {
  return EL
}
export function evaluationQueries(): usize {
  return EQ
}
export function evaluationLogits(): usize {
  return EZ
}
export function evaluationJacobians(): usize {
  return EJ
}

@inline function kqAt(r: i32, k: i32): v128 {
  return f64x2.splat(load<f64>(KQ + (<usize>(r * D + k) << 3)))
}

@inline function momentAt(r: i32, c: i32): usize {
  return MOM + (<usize>(r * D + c) << 4)
}

/**
 * Model.forwardBatch(spec, weights, contexts, true) of every loaded context, for the model (attention 0 linear, 1 exp,
 * 2 softmax) whose weights are at KQ and PV: logits into EZ, ∂z/∂x_q into EJ.
 */
export function evaluate(attention_: i32, attendToQuery_: bool, expShift_: f64): void {
  attention = attention_
  attendToQuery = attendToQuery_
  expShift = expShift_
  const pairs = (evalTasks + 1) >> 1
  const rowBytes = <usize>d << 4
  const isd = f64x2.splat(invSqrtD)
  const zero = f64x2.splat(0)
  const count = f64x2.splat(<f64>n)
  const keys = attendToQuery ? n + 1 : n
  for (let pair = 0; pair < pairs; pair++) {
    const tasks = pair * 2 + 1 < evalTasks ? 2 : 1
    const xb = EX + <usize>(pair * n) * rowBytes
    const lb = EL + (<usize>(pair * n) << 3)
    const qb = EQ + <usize>pair * rowBytes
    // u = W_KQ e_q: x part in GU, label part in UY; summed from 0 over k.
    for (let r = 0; r < D; r++) {
      let s = zero
      for (let k = 0; k < d; k++) s = f64x2.add(s, f64x2.mul(kqAt(r, k), v128.load(qb + (<usize>k << 4))))
      v128.store(r < d ? GU + (<usize>r << 4) : UY + (<usize>(r - d) << 4), s)
    }
    // Scores: u[d + label] + Σ_k x_k u_k.
    for (let i = 0; i < n; i++) {
      const x = xb + <usize>i * rowBytes
      let s = gather2(UY, lb + (<usize>i << 3))
      for (let k: usize = 0; k < rowBytes; k += 16) s = f64x2.add(s, f64x2.mul(v128.load(x + k), v128.load(GU + k)))
      v128.store(SC + (<usize>i << 4), s)
    }
    if (attendToQuery) {
      let s = zero
      for (let k: usize = 0; k < rowBytes; k += 16) s = f64x2.add(s, f64x2.mul(v128.load(qb + k), v128.load(GU + k)))
      v128.store(SC + (<usize>n << 4), s)
    }
    // Model.activate.
    if (attention == 0) {
      for (let j = 0; j < keys; j++) v128.store(ATT + (<usize>j << 4), f64x2.div(v128.load(SC + (<usize>j << 4)), count))
    } else if (attention == 1) {
      const shift = f64x2.splat(expShift)
      for (let j = 0; j < keys; j++) {
        v128.store(ATT + (<usize>j << 4), f64x2.div(fastExp2(f64x2.sub(f64x2.mul(v128.load(SC + (<usize>j << 4)), isd), shift)), count))
      }
    } else {
      let mx = f64x2.splat(-Infinity)
      for (let j = 0; j < keys; j++) mx = f64x2.max(mx, f64x2.mul(v128.load(SC + (<usize>j << 4)), isd))
      let total = zero
      for (let j = 0; j < keys; j++) {
        const e = fastExp2(f64x2.sub(f64x2.mul(v128.load(SC + (<usize>j << 4)), isd), mx))
        v128.store(ATT + (<usize>j << 4), e)
        total = f64x2.add(total, e)
      }
      for (let j = 0; j < keys; j++) v128.store(ATT + (<usize>j << 4), f64x2.div(v128.load(ATT + (<usize>j << 4)), total))
    }
    // h = Σ_j a_j e_j.
    memory.fill(H, 0, rowBytes)
    memory.fill(HY, 0, <usize>C << 4)
    for (let i = 0; i < n; i++) {
      const a = v128.load(ATT + (<usize>i << 4))
      addScaledInputs(H, a, xb + <usize>i * rowBytes)
      scatterAdd2(HY, lb + (<usize>i << 3), a)
    }
    if (attendToQuery) addScaledInputs(H, v128.load(ATT + (<usize>n << 4)), qb)
    // Logits, lane by lane into [task][c].
    for (let c = 0; c < C; c++) {
      let s = zero
      for (let r = 0; r < D; r++) {
        const hr = r < d ? v128.load(H + (<usize>r << 4)) : v128.load(HY + (<usize>(r - d) << 4))
        s = f64x2.add(s, f64x2.mul(f64x2.splat(load<f64>(PV + (<usize>((d + c) * D + r) << 3))), hr))
      }
      const at = EZ + (<usize>(pair * 2 * C + c) << 3)
      store<f64>(at, f64x2.extract_lane(s, 0))
      if (tasks == 2) store<f64>(at + (<usize>C << 3), f64x2.extract_lane(s, 1))
    }
    // ∂z/∂x_q (Model.forwardTask): M = Σ_j c_j e_j e_jᵀ over the context keys, c_j = 1/n or a_j/√D.
    memory.fill(MOM, 0, <usize>(D * D) << 4)
    const inverseCount = f64x2.splat(1 / <f64>n)
    for (let i = 0; i < n; i++) {
      const x = xb + <usize>i * rowBytes
      const c = attention == 0 ? inverseCount : f64x2.mul(v128.load(ATT + (<usize>i << 4)), isd)
      const labels = lb + (<usize>i << 3)
      const y0 = d + load<i32>(labels)
      const y1 = d + load<i32>(labels, 4)
      for (let k = 0; k < d; k++) {
        const cx = f64x2.mul(c, v128.load(x + (<usize>k << 4)))
        for (let l = 0; l < d; l++) {
          const at = momentAt(k, l)
          v128.store(at, f64x2.add(v128.load(at), f64x2.mul(cx, v128.load(x + (<usize>l << 4)))))
        }
        addLane(momentAt(k, y0), f64x2.extract_lane(cx, 0))
        addLane(momentAt(k, y1) + 8, f64x2.extract_lane(cx, 1))
        addLane(momentAt(y0, k), f64x2.extract_lane(cx, 0))
        addLane(momentAt(y1, k) + 8, f64x2.extract_lane(cx, 1))
      }
      addLane(momentAt(y0, y0), f64x2.extract_lane(c, 0))
      addLane(momentAt(y1, y1) + 8, f64x2.extract_lane(c, 1))
    }
    // The query key: ∂s_q = u[:d] + e_qᵀ G.
    if (attendToQuery) {
      for (let dir = 0; dir < d; dir++) {
        let s = v128.load(GU + (<usize>dir << 4))
        for (let k = 0; k < d; k++) s = f64x2.add(s, f64x2.mul(v128.load(qb + (<usize>k << 4)), kqAt(k, dir)))
        v128.store(GQ + (<usize>dir << 4), s)
      }
    }
    const aq = attendToQuery ? v128.load(ATT + (<usize>n << 4)) : zero
    for (let dir = 0; dir < d; dir++) {
      let mean = zero
      if (attention == 2) {
        for (let r = 0; r < D; r++) {
          const hr = r < d ? v128.load(H + (<usize>r << 4)) : v128.load(HY + (<usize>(r - d) << 4))
          mean = f64x2.add(mean, f64x2.mul(hr, kqAt(r, dir)))
        }
        if (attendToQuery) {
          for (let k = 0; k < d; k++) mean = f64x2.sub(mean, f64x2.mul(f64x2.mul(aq, v128.load(qb + (<usize>k << 4))), kqAt(k, dir)))
          mean = f64x2.add(mean, f64x2.mul(aq, v128.load(GQ + (<usize>dir << 4))))
        }
      }
      v128.store(MT + (<usize>dir << 4), mean)
    }
    for (let r = 0; r < D; r++) {
      let v = zero
      if (attention == 2) {
        if (r < d) for (let c = 0; c < C; c++) v = f64x2.add(v, v128.load(momentAt(r, d + c)))
        else v = v128.load(momentAt(r, r))
      }
      for (let dir = 0; dir < d; dir++) {
        let s = zero
        for (let t = 0; t < D; t++) s = f64x2.add(s, f64x2.mul(v128.load(momentAt(r, t)), kqAt(t, dir)))
        v128.store(DH + (<usize>(r * d + dir) << 4), f64x2.sub(s, f64x2.mul(v, v128.load(MT + (<usize>dir << 4)))))
      }
    }
    if (attendToQuery) {
      const cq = attention == 0 ? inverseCount : f64x2.mul(aq, isd)
      for (let k = 0; k < d; k++) {
        const qk = v128.load(qb + (<usize>k << 4))
        for (let dir = 0; dir < d; dir++) {
          const at = DH + (<usize>(k * d + dir) << 4)
          const term = f64x2.mul(f64x2.mul(qk, cq), f64x2.sub(v128.load(GQ + (<usize>dir << 4)), v128.load(MT + (<usize>dir << 4))))
          v128.store(at, f64x2.add(v128.load(at), term))
        }
        const diagonal = DH + (<usize>(k * d + k) << 4)
        v128.store(diagonal, f64x2.add(v128.load(diagonal), aq))
      }
    }
    for (let c = 0; c < C; c++) {
      for (let dir = 0; dir < d; dir++) {
        let s = zero
        for (let r = 0; r < D; r++) s = f64x2.add(s, f64x2.mul(f64x2.splat(load<f64>(PV + (<usize>((d + c) * D + r) << 3))), v128.load(DH + (<usize>(r * d + dir) << 4))))
        const at = EJ + (<usize>((pair * 2 * C + c) * d + dir) << 3)
        store<f64>(at, f64x2.extract_lane(s, 0))
        if (tasks == 2) store<f64>(at + (<usize>(C * d) << 3), f64x2.extract_lane(s, 1))
      }
    }
  }
}

@inline function addLane(at: usize, value: f64): void {
  store<f64>(at, load<f64>(at) + value)
}


/**
 * GdMath.referencePredict(shape, {c_σ, scale}, contexts, true) of every loaded evaluation context (kind: 0 gd-linear,
 * 1 kgd-fixed, 2 ca-kgd; γ = c_σ/√D): logits into EZ, their Jacobians into EJ.
 */
export function evaluateReference(kind: i32, gamma: f64, scale: f64, selfAttend: bool): void {
  const pairs = (evalTasks + 1) >> 1
  const rowBytes = <usize>d << 4
  const zero = f64x2.splat(0)
  const g = f64x2.splat(gamma)
  const count = f64x2.splat(<f64>n)
  for (let pair = 0; pair < pairs; pair++) {
    const tasks = pair * 2 + 1 < evalTasks ? 2 : 1
    const xb = EX + <usize>(pair * n) * rowBytes
    const lb = EL + (<usize>(pair * n) << 3)
    const qb = EQ + <usize>pair * rowBytes
    memory.fill(FEAT, 0, <usize>C << 4)
    memory.fill(JAC, 0, <usize>(C * d) << 4)
    // x_iᵀ x_q, summed from 0 over k.
    for (let i = 0; i < n; i++) {
      const x = xb + <usize>i * rowBytes
      let dot = zero
      for (let k: usize = 0; k < rowBytes; k += 16) dot = f64x2.add(dot, f64x2.mul(v128.load(x + k), v128.load(qb + k)))
      v128.store(SC + (<usize>i << 4), dot)
    }
    if (kind == 0) {
      for (let i = 0; i < n; i++) {
        const labels = lb + (<usize>i << 3)
        const x = xb + <usize>i * rowBytes
        scatterAdd2(FEAT, labels, f64x2.div(v128.load(SC + (<usize>i << 4)), count))
        for (let k = 0; k < d; k++) scatterJacobian(labels, k, f64x2.div(v128.load(x + (<usize>k << 4)), count))
      }
    } else if (kind == 1) {
      const shift = f64x2.splat(abs<f64>(gamma))
      for (let i = 0; i < n; i++) {
        const labels = lb + (<usize>i << 3)
        const x = xb + <usize>i * rowBytes
        const w = f64x2.div(fastExp2(f64x2.sub(f64x2.mul(g, v128.load(SC + (<usize>i << 4))), shift)), count)
        scatterAdd2(FEAT, labels, w)
        const wg = f64x2.mul(w, g)
        for (let k = 0; k < d; k++) scatterJacobian(labels, k, f64x2.mul(wg, v128.load(x + (<usize>k << 4))))
      }
    } else {
      let qq = zero
      if (selfAttend) for (let k: usize = 0; k < rowBytes; k += 16) qq = f64x2.add(qq, f64x2.mul(v128.load(qb + k), v128.load(qb + k)))
      let mx = selfAttend ? f64x2.mul(g, qq) : f64x2.splat(-Infinity)
      for (let i = 0; i < n; i++) mx = f64x2.max(mx, f64x2.mul(g, v128.load(SC + (<usize>i << 4))))
      let total = zero
      for (let i = 0; i < n; i++) {
        const k = fastExp2(f64x2.sub(f64x2.mul(g, v128.load(SC + (<usize>i << 4))), mx))
        v128.store(SC + (<usize>i << 4), k)
        total = f64x2.add(total, k)
      }
      const selfKernel = selfAttend ? fastExp2(f64x2.sub(f64x2.mul(g, qq), mx)) : zero
      total = f64x2.add(total, selfKernel)
      for (let i = 0; i < n; i++) scatterAdd2(FEAT, lb + (<usize>i << 3), f64x2.div(v128.load(SC + (<usize>i << 4)), total))
      // ∂S_c = (∂N_c − S_c ∂Z) / Z with ∂k_i = γ k_i x_i and ∂k_q = 2γ k_q x_q.
      memory.fill(ZG, 0, rowBytes)
      for (let i = 0; i < n; i++) {
        const labels = lb + (<usize>i << 3)
        const x = xb + <usize>i * rowBytes
        const gk = f64x2.mul(g, v128.load(SC + (<usize>i << 4)))
        for (let k = 0; k < d; k++) {
          const gx = f64x2.mul(gk, v128.load(x + (<usize>k << 4)))
          scatterJacobian(labels, k, f64x2.div(gx, total))
          const at = ZG + (<usize>k << 4)
          v128.store(at, f64x2.add(v128.load(at), gx))
        }
      }
      const twoGammaSelf = f64x2.mul(f64x2.mul(f64x2.splat(2), g), selfKernel)
      for (let k: usize = 0; k < rowBytes; k += 16) v128.store(ZG + k, f64x2.add(v128.load(ZG + k), f64x2.mul(twoGammaSelf, v128.load(qb + k))))
      for (let c = 0; c < C; c++) {
        const s = v128.load(FEAT + (<usize>c << 4))
        for (let k = 0; k < d; k++) {
          const at = JAC + (<usize>(c * d + k) << 4)
          v128.store(at, f64x2.sub(v128.load(at), f64x2.div(f64x2.mul(s, v128.load(ZG + (<usize>k << 4))), total)))
        }
      }
    }
    // Logits and Jacobians, times the step, into [task][c] and [task][c][dir].
    const sc = f64x2.splat(scale)
    for (let c = 0; c < C; c++) {
      const z = f64x2.mul(v128.load(FEAT + (<usize>c << 4)), sc)
      const at = EZ + (<usize>(pair * 2 * C + c) << 3)
      store<f64>(at, f64x2.extract_lane(z, 0))
      if (tasks == 2) store<f64>(at + (<usize>C << 3), f64x2.extract_lane(z, 1))
      for (let k = 0; k < d; k++) {
        const j = f64x2.mul(v128.load(JAC + (<usize>(c * d + k) << 4)), sc)
        const jat = EJ + (<usize>((pair * 2 * C + c) * d + k) << 3)
        store<f64>(jat, f64x2.extract_lane(j, 0))
        if (tasks == 2) store<f64>(jat + (<usize>(C * d) << 3), f64x2.extract_lane(j, 1))
      }
    }
  }
}

/** JAC[label][k] += value, lane by lane. */
@inline function scatterJacobian(labels: usize, k: i32, value: v128): void {
  const a0 = JAC + (<usize>(load<i32>(labels) * d + k) << 4)
  const a1 = JAC + (<usize>(load<i32>(labels, 4) * d + k) << 4) + 8
  store<f64>(a0, load<f64>(a0) + f64x2.extract_lane(value, 0))
  store<f64>(a1, load<f64>(a1) + f64x2.extract_lane(value, 1))
}
