/**
 * Counter-based randomness: every random draw in a run is a pure function of (seed, stream, counter).
 *
 * Philox4x32-10 turns a key (seed, stream) and a counter (e.g. step and task index) into a 128-bit state, and
 * xoshiro128** draws the stream from that state. Because each task owns its own keyed stream, a batch does not depend
 * on how it is split across workers or on where a run was resumed.
 */

const PHILOX_M0 = 0xd2511f53
const PHILOX_M1 = 0xcd9e8d57
const PHILOX_W0 = 0x9e3779b9
const PHILOX_W1 = 0xbb67ae85

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
const mulHi = (a: number, b: number): number => {
  const aLo = a & 0xffff
  const aHi = a >>> 16
  const bLo = b & 0xffff
  const bHi = b >>> 16
  const loLo = aLo * bLo
  const hiLo = aHi * bLo
  const loHi = aLo * bHi
  const hiHi = aHi * bHi
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + (loHi & 0xffff)
  return (hiHi + (hiLo >>> 16) + (loHi >>> 16) + (cross >>> 16)) >>> 0
}

/** Philox4x32-10 of (counter, key) written into out[0..3], without allocating (the per-task hot path). */
const philoxInto = (out: Int32Array, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void => {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi(PHILOX_M0, c0)
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0
    const hi1 = mulHi(PHILOX_M1, c2)
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0
    const n0 = (hi1 ^ c1 ^ k0) >>> 0
    const n2 = (hi0 ^ c3 ^ k1) >>> 0
    c0 = n0
    c1 = lo1
    c2 = n2
    c3 = lo0
    k0 = (k0 + PHILOX_W0) >>> 0
    k1 = (k1 + PHILOX_W1) >>> 0
  }
  out[0] = c0
  out[1] = c1
  out[2] = c2
  out[3] = c3
}

/** Philox4x32-10 block function: four 32-bit words of output for a 128-bit counter and a 64-bit key. */
export const philox4x32 = (
  counter: readonly [number, number, number, number],
  key: readonly [number, number]
): [number, number, number, number] => {
  const out = new Int32Array(4)
  philoxInto(out, counter[0] >>> 0, counter[1] >>> 0, counter[2] >>> 0, counter[3] >>> 0, key[0] >>> 0, key[1] >>> 0)
  return [out[0]! >>> 0, out[1]! >>> 0, out[2]! >>> 0, out[3]! >>> 0]
}

/**
 * Named streams keep model initialisation, training data, evaluation data, grid-search data and the fixed parts of a
 * task distribution (a regression task family's random feature map) independent.
 */
export const Stream = {
  init: 1,
  train: 2,
  evaluation: 3,
  grid: 4,
  features: 5
} as const
export type StreamName = keyof typeof Stream

/** xoshiro128** generator with uniform and normal draws; construct it with {@link keyedRng}. */
export class Rng {
  // The state is kept as signed int32 so that V8 stores it unboxed; outputs are converted to uint32 at the end.
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  constructor(state: readonly [number, number, number, number]) {
    const allZero = state.every((w) => w === 0)
    this.s0 = allZero ? 1 : state[0] | 0
    this.s1 = state[1] | 0
    this.s2 = state[2] | 0
    this.s3 = state[3] | 0
  }

  /**
   * Restarts this generator on the stream keyed by (seed, stream, counterA, counterB), without allocating: Philox of
   * the counter (counterA, counterB, stream id, seed's high half) under the key (seed's low half, a salt).
   */
  rekey(seed: number, stream: StreamName, counterA: number, counterB = 0): this {
    philoxInto(KEYED, counterA >>> 0, counterB >>> 0, Stream[stream], Math.floor(seed / 4294967296) >>> 0, seed >>> 0, SEED_SALT)
    const allZero = KEYED[0] === 0 && KEYED[1] === 0 && KEYED[2] === 0 && KEYED[3] === 0
    this.s0 = allZero ? 1 : KEYED[0]!
    this.s1 = KEYED[1]!
    this.s2 = KEYED[2]!
    this.s3 = KEYED[3]!
    return this
  }

  nextUint32(): number {
    const s1 = this.s1
    const r = Math.imul(s1, 5)
    const result = Math.imul((r << 7) | (r >>> 25), 9)
    const t = s1 << 9
    const s2 = this.s2 ^ this.s0
    const s3 = this.s3 ^ s1
    this.s1 = s1 ^ s2
    this.s0 = this.s0 ^ s3
    this.s2 = s2 ^ t
    this.s3 = (s3 << 11) | (s3 >>> 21)
    return result >>> 0
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextUint32() >>> 5
    const b = this.nextUint32() >>> 6
    return (a * 67108864 + b) / 9007199254740992
  }

  /** Uniform integer in {0, …, k − 1} from one 32-bit draw (bias below k/2^32, far under sampling noise). */
  int(k: number): number {
    return Math.floor(this.nextUint32() * 2.3283064365386963e-10 * k)
  }

  /** `count` draws of {@link int}(k) into out[offset…], with the state in locals. */
  fillInts(out: Int32Array, offset: number, count: number, k: number): void {
    let s0 = this.s0
    let s1 = this.s1
    let s2 = this.s2
    let s3 = this.s3
    const end = offset + count
    for (let i = offset; i < end; i++) {
      const r = Math.imul(s1, 5)
      const u = Math.imul((r << 7) | (r >>> 25), 9)
      const t = s1 << 9
      s2 ^= s0
      s3 ^= s1
      s1 ^= s2
      s0 ^= s3
      s2 ^= t
      s3 = (s3 << 11) | (s3 >>> 21)
      out[i] = Math.floor((u >>> 0) * 2.3283064365386963e-10 * k)
    }
    this.s0 = s0
    this.s1 = s1
    this.s2 = s2
    this.s3 = s3
  }

  /**
   * Standard normal by the ziggurat method (Marsaglia & Tsang 2000; 128 layers unless `table` says otherwise). The
   * layer index and the value come from disjoint bits of one 32-bit draw (7 and 25 bits with 128 layers, 10 and 22
   * with 1024), avoiding the original's index/value correlation.
   */
  normal(table: Ziggurat = ziggurat128): number {
    const u = this.nextUint32()
    const layer = u & table.mask
    const j = (u | 0) >> table.shift
    return Math.abs(j) < table.k[layer]! ? j * table.w[layer]! : this.normalFrom(u, table)
  }

  /** The ziggurat from a first 32-bit draw `u` (more draws only when u falls outside the rectangles). */
  private normalFrom(first: number, table: Ziggurat): number {
    for (let u = first; ; u = this.nextUint32()) {
      const layer = u & table.mask
      const j = (u | 0) >> table.shift
      const x = j * table.w[layer]!
      if (Math.abs(j) < table.k[layer]!) return x
      if (layer === 0) return this.tail(j, table.r)
      const f0 = table.f[layer]!
      if (f0 + this.uniform() * (table.f[layer - 1]! - f0) < Math.exp(-0.5 * x * x)) return x
    }
  }

  /** The ziggurat's tail beyond r, by Marsaglia's exponential rejection, on the side of j's sign. */
  private tail(j: number, r: number): number {
    let tx: number
    let ty: number
    do {
      tx = -Math.log(1 - this.uniform()) / r
      ty = -Math.log(1 - this.uniform())
    } while (ty + ty < tx * tx)
    return j > 0 ? r + tx : -r - tx
  }

  /**
   * `count` normals into out[offset…]: the same values as `count` calls of {@link normal} with the same table. The
   * rectangle test (97.2% of draws with 128 layers, 99.6% with 1024) runs in a loop of its own with the generator state
   * in locals; a draw that fails it leaves the loop for {@link normalFrom}. Keeping that path out of the loop makes it
   * a third faster, as the loop's registers are then its own.
   */
  fillNormals(out: Float64Array, offset: number, count: number, table: Ziggurat = ziggurat128): void {
    let s0 = this.s0
    let s1 = this.s1
    let s2 = this.s2
    let s3 = this.s3
    const { kInt: k, w, mask, shift } = table
    const end = offset + count
    let i = offset
    while (i < end) {
      let u = 0
      for (; i < end; i++) {
        const r = Math.imul(s1, 5)
        u = Math.imul((r << 7) | (r >>> 25), 9)
        const t = s1 << 9
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 11) | (s3 >>> 21)
        const layer = u & mask
        const j = u >> shift
        if (Math.abs(j) >= k[layer]!) break
        out[i] = j * w[layer]!
      }
      if (i === end) break
      this.s0 = s0
      this.s1 = s1
      this.s2 = s2
      this.s3 = s3
      out[i++] = this.normalFrom(u, table)
      s0 = this.s0
      s1 = this.s1
      s2 = this.s2
      s3 = this.s3
    }
    this.s0 = s0
    this.s1 = s1
    this.s2 = s2
    this.s3 = s3
  }
}

const SEED_SALT = 0x5eed1c1
const KEYED = new Int32Array(4)

/**
 * A ziggurat's layer tables (Marsaglia & Tsang 2000) for draws whose low log2(layers) bits pick the layer and whose
 * other bits, as a signed integer j, the position: a draw is j·w[layer] when |j| < kInt[layer] (the rectangles), else
 * the layer's wedge (density f) or, from the base layer, the tail beyond r.
 */
export interface Ziggurat {
  readonly layers: number
  readonly mask: number
  readonly shift: number
  /** Where the tail starts. */
  readonly r: number
  readonly k: Float64Array
  /** ⌈k⌉: for integer j, |j| < k exactly when |j| < ⌈k⌉ (every k is below 2^25). */
  readonly kInt: Int32Array
  readonly w: Float64Array
  readonly f: Float64Array
}

/** The tables of the `layers`-layer ziggurat with tail start r and layer area v, for 32-bit draws. */
const makeZiggurat = (layers: number, r: number, v: number): Ziggurat => {
  const shift = Math.log2(layers)
  // j is a signed (32 − shift)-bit integer: |j| < 2^(31 − shift) = m.
  const m = 2 ** (31 - shift)
  const k = new Float64Array(layers)
  const w = new Float64Array(layers)
  const f = new Float64Array(layers)
  let dn = r
  let tn = dn
  const q = v / Math.exp(-0.5 * dn * dn)
  k[0] = (dn / q) * m
  k[1] = 0
  w[0] = q / m
  w[layers - 1] = dn / m
  f[0] = 1
  f[layers - 1] = Math.exp(-0.5 * dn * dn)
  for (let i = layers - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(v / dn + Math.exp(-0.5 * dn * dn)))
    k[i + 1] = (dn / tn) * m
    tn = dn
    f[i] = Math.exp(-0.5 * dn * dn)
    w[i] = dn / m
  }
  return { layers, mask: layers - 1, shift, r, k, kInt: Int32Array.from(k, Math.ceil), w, f }
}

/** The 128-layer ziggurat: every draw but the training batches' (model initialisation, evaluation and grid sets). */
export const ziggurat128: Ziggurat = makeZiggurat(128, 3.442619855899, 9.91256303526217e-3)

/**
 * The 1024-layer ziggurat: classification training batches draw their normals from it (Task.normalsOf). Its
 * rectangles take 99.6% of draws against 97.2% with 128 layers: a four-lane vectorised sampler leaves its loop for a
 * draw outside them on 1.7% of its rounds instead of 10.6%, and those exits were most of its cost (issue 15: sampling
 * 0.89 → 0.54 ms per batch of 512 at n = 100 on one thread). Values have 22 bits of position (j·w with |j| < 2^21)
 * instead of 25, a resolution of 2^-21 of the layer's width, finer than float32's. Its tables (16 KB of w and k, 8 KB
 * of f) stay in the first-level cache; more layers gain little (0.51 ms with 4096).
 * r (where the tail starts) and v (each layer's area) solve Marsaglia & Tsang's closure: the recursion
 * x_{i−1} = f^{-1}(v/x_i + f(x_i)) from x_{1023} = r, with v = r·f(r) + ∫_r^∞ f and f(x) = exp(−x²/2), reaches the
 * density's peak exactly at the top layer (solved by bisection in 40-digit arithmetic; test/domain/Rng.test.ts checks
 * the closure in float64).
 */
export const ziggurat1024: Ziggurat = makeZiggurat(1024, 4.0388498461095045227, 0.0012263246463530880729)

/**
 * The generator for one (seed, stream, counter) key. The seed may be any non-negative integer below 2^53; its two
 * 32-bit halves form the Philox key together with the stream id.
 */
export const keyedRng = (seed: number, stream: StreamName, counterA: number, counterB = 0): Rng =>
  new Rng([0, 0, 0, 0]).rekey(seed, stream, counterA, counterB)
