import { assert, describe, it } from "@effect/vitest"
import { FusedScratch, lossAndGradients } from "../../../src/domain/classification/FusedGradient.js"
import { makeFusedKernel } from "../../../src/domain/classification/FusedKernel.js"
import { forwardBatch, initWeights, type Weights } from "../../../src/domain/classification/Model.js"
import { FD_STEP, FINITE_DIFFERENCE, FLOAT64_IDENTITY, assertClose, spec, tasks } from "../../helpers.js"

const d = 5
const C = 4
const batch = tasks({ d, C, n: 12 }, 6, 3)
/** Every activation with and without the query attending to itself. */
const VARIANTS = [
  ["linear", true],
  ["linear", false],
  ["softmax", false],
  ["softmax", true],
  ["exp", true],
  ["exp", false]
] as const

/** Weights at scale 0.5 make softmax attention far from uniform, so every term of the gradient is exercised. */
const weightsFor = (s: ReturnType<typeof spec>) => initWeights(s, 5, 0.5)

const lossAt = (s: ReturnType<typeof spec>, w: Weights) =>
  lossAndGradients(s, w, batch, { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) })

describe("fused engine", () => {
  for (const [attention, attendToQuery] of VARIANTS) {
    it(`${attention} attention (query attends: ${attendToQuery}): analytic gradient = central differences`, () => {
      const s = spec(attention, d, C, attendToQuery)
      const w = weightsFor(s)
      const grads = { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) }
      lossAndGradients(s, w, batch, grads, new FusedScratch(w.D, C, batch.n + 1))
      for (const which of ["kq", "pv"] as const) {
        const numerical = new Float64Array(w.D ** 2)
        for (let i = 0; i < w.D ** 2; i++) {
          const plus = { ...w, [which]: w[which].slice() }
          const minus = { ...w, [which]: w[which].slice() }
          plus[which][i]! += FD_STEP
          minus[which][i]! -= FD_STEP
          numerical[i] = (lossAt(s, plus) - lossAt(s, minus)) / (2 * FD_STEP)
        }
        assertClose(grads[which], numerical, FINITE_DIFFERENCE, which)
      }
    })
  }

  it("the blocks that cannot reach the output get exactly zero gradient (A_xy, A_yy, P_xx, P_xy)", () => {
    for (const attention of ["linear", "softmax", "exp"] as const) {
      const s = spec(attention, d, C)
      const w = weightsFor(s)
      const grads = { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) }
      lossAndGradients(s, w, batch, grads)
      let nonZeroElsewhere = 0
      for (let r = 0; r < w.D; r++) {
        for (let c = 0; c < w.D; c++) {
          const kqUnreachable = c >= d
          const pvUnreachable = r < d
          if (kqUnreachable) assert.strictEqual(grads.kq[r * w.D + c], 0, `${attention} W_KQ[${r},${c}]`)
          else if (grads.kq[r * w.D + c] !== 0) nonZeroElsewhere++
          if (pvUnreachable) assert.strictEqual(grads.pv[r * w.D + c], 0, `${attention} W_PV[${r},${c}]`)
          else if (grads.pv[r * w.D + c] !== 0) nonZeroElsewhere++
        }
      }
      assert.isAbove(nonZeroElsewhere, 0, "the reachable blocks do get gradient")
    }
  })

  it("model Jacobians ∂z/∂x_q from forward-mode differentiation match central differences", () => {
    for (const [attention, attendToQuery] of [
      ["linear", true],
      ["softmax", false],
      ["softmax", true],
      ["exp", true]
    ] as const) {
      const s = spec(attention, d, C, attendToQuery)
      const w = weightsFor(s)
      const { jacobians } = forwardBatch(s, w, batch, true)
      for (let t = 0; t < batch.size; t++) {
        for (let k = 0; k < d; k++) {
          const shifted = (h: number) => {
            const query = batch.query.slice()
            query[t * d + k]! += h
            return forwardBatch(s, w, { ...batch, query }, false).logits.subarray(t * C, (t + 1) * C)
          }
          const plus = shifted(FD_STEP)
          const minus = shifted(-FD_STEP)
          for (let c = 0; c < C; c++) {
            const numerical = (plus[c]! - minus[c]!) / (2 * FD_STEP)
            assert.isTrue(Math.abs(numerical - jacobians![t * C * d + c * d + k]!) < FINITE_DIFFERENCE, `${attention} t=${t} c=${c} k=${k}`)
          }
        }
      }
    }
  })

  it("permuting the context leaves logits and gradients unchanged", () => {
    const permutation = Array.from({ length: batch.n }, (_, i) => (i * 5 + 3) % batch.n)
    const permuted = {
      ...batch,
      x: batch.x.slice(),
      labels: batch.labels.slice()
    }
    for (let t = 0; t < batch.size; t++) {
      permutation.forEach((from, to) => {
        permuted.labels[t * batch.n + to] = batch.labels[t * batch.n + from]!
        for (let k = 0; k < d; k++) permuted.x[(t * batch.n + to) * d + k] = batch.x[(t * batch.n + from) * d + k]!
      })
    }
    for (const attention of ["linear", "softmax", "exp"] as const) {
      const s = spec(attention, d, C)
      const w = weightsFor(s)
      assertClose(forwardBatch(s, w, permuted, true).logits, forwardBatch(s, w, batch, true).logits, FLOAT64_IDENTITY, attention)
      const g1 = { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) }
      const g2 = { kq: new Float64Array(w.D ** 2), pv: new Float64Array(w.D ** 2) }
      lossAndGradients(s, w, batch, g1)
      lossAndGradients(s, w, permuted, g2)
      assertClose(g2.kq, g1.kq, FLOAT64_IDENTITY, `${attention} ∇W_KQ`)
      assertClose(g2.pv, g1.pv, FLOAT64_IDENTITY, `${attention} ∇W_PV`)
    }
  })
})

describe("generated fused kernel", () => {
  const big = tasks({ d: 4, C: 6, n: 30 }, 50, 8)
  for (const [attention, attendToQuery] of VARIANTS) {
    it(`${attention} (query attends: ${attendToQuery}) computes what the reference loop computes`, () => {
      const s = { ...spec(attention, 4, 6, attendToQuery), expShift: 0.4 }
      const w = initWeights(s, 13, 0.5)
      const reference = { kq: new Float64Array(100), pv: new Float64Array(100) }
      const generated = { kq: new Float64Array(100), pv: new Float64Array(100) }
      const lossReference = lossAndGradients(s, w, big, reference)
      const lossGenerated = makeFusedKernel(s)(w, big, generated)
      // Same operations, partly in another order: agreement to rounding.
      assert.closeTo(lossGenerated, lossReference, FLOAT64_IDENTITY)
      assertClose(generated.kq, reference.kq, FLOAT64_IDENTITY, "∇W_KQ")
      assertClose(generated.pv, reference.pv, FLOAT64_IDENTITY, "∇W_PV")
    })
  }
})
