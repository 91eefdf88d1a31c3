/**
 * The K-layer regression engine's WebAssembly SIMD kernel against the JavaScript kernel it replaces (DeepKernel): the
 * same bits, not merely close values, for K = 1…5, every activation, recurrent or not, on shapes that fill no
 * vector evenly (odd d and n, chunks of one or three tasks: two tasks per f64x2 vector). The kernel is built by the
 * test set-up (scripts/build.mjs); a kernel that does not load fails these tests rather than skipping them.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  deepKernelKind,
  makeChunkedDeepKernel,
  makeRegressionChunkGradient,
  regressionChunkCount,
  regressionPartialStride
} from "../../../src/domain/regression/ChunkedGradient.js"
import { type RegressionTaskConfig, regressionDefaults } from "../../../src/domain/regression/Config.js"
import { makeDeepGradient } from "../../../src/domain/regression/DeepGradient.js"
import { makeDeepKernel } from "../../../src/domain/regression/DeepKernel.js"
import type { RegressionSpec } from "../../../src/domain/regression/Model.js"
import { simdCovers, simdDeepKernel } from "../../../src/domain/regression/SimdKernel.js"
import { sampleRegressionTasks, sliceOfBatch } from "../../../src/domain/regression/Task.js"
import { initRegressionWeights } from "../../../src/services/regression/Trainer.js"
import { regressionKernel } from "../../../src/services/Kernels.js"
import { FLOAT64_IDENTITY, relativeError } from "../../helpers.js"

const kernelModule = () => {
  const load = regressionKernel()
  if (!load.loaded) assert.fail(`the regression SIMD kernel did not load: ${load.reason}`)
  return load.module
}

/** Bitwise equality of two arrays (0 and −0 told apart), with the first difference in the message. */
const assertSameBits = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
  assert.strictEqual(actual.length, expected.length, `${what}: length`)
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: entry ${i} is ${actual[i]}, JavaScript's is ${expected[i]}`)
  }
}

/** (d, n): von Oswald et al.'s setting, and shapes whose D = d + 1 and n fill no tile of the kernel evenly. */
const SHAPES = [
  { d: 10, n: 10 },
  { d: 3, n: 7 },
  { d: 1, n: 1 },
  { d: 2, n: 5 },
  { d: 6, n: 12 }
]
const taskOf = ({ d, n }: { d: number; n: number }): RegressionTaskConfig => ({ ...regressionDefaults.task, inputs: "cube", d, n })

describe("regression SIMD kernel", () => {
  it("gives DeepKernel's loss and gradient bit for bit: K = 1…5, every activation, recurrent or not, 1 to 8 tasks", () => {
    const module = kernelModule()
    for (const shape of SHAPES) {
      const task = taskOf(shape)
      const batch = sampleRegressionTasks(task, 4, "train", 2, 8)
      for (let K = 1; K <= 5; K++) {
        for (const activation of ["linear", "relu", "exp", "softmax"] as const) {
          for (const recurrent of [false, true]) {
            const s: RegressionSpec = { activation, d: shape.d, depth: K, recurrent }
            // Small exp weights: deep exp attention with large ones overflows (README).
            const values = initRegressionWeights(s, 20 + K, activation === "exp" ? 0.05 : 0.3)
            const simd = simdDeepKernel(module, s, shape.n, 8)
            const javaScript = makeDeepKernel(s, shape.n)
            for (const count of [1, 2, 3, 8]) {
              const part = sliceOfBatch(batch, 0, count)
              const expected = new Float64Array(values.length)
              const actual = new Float64Array(values.length).fill(Number.NaN)
              const what = `${activation} K=${K} recurrent=${recurrent} d=${shape.d} n=${shape.n}, ${count} task(s)`
              const lossExpected = javaScript(values, part, expected, 50)
              const lossActual = simd(values, part, actual, 50)
              assert.isTrue(Object.is(lossActual, lossExpected), `${what}: loss ${lossActual} against ${lossExpected}`)
              assertSameBits(actual, expected, what)
            }
          }
        }
      }
    }
  })

  it("matches the float64 reference (DeepGradient) to rounding, and reads a batch sampled into its memory as a copied one", () => {
    const module = kernelModule()
    const task = taskOf({ d: 3, n: 7 })
    for (let K = 1; K <= 5; K++) {
      const s: RegressionSpec = { activation: "linear", d: 3, depth: K, recurrent: false }
      const values = initRegressionWeights(s, 5 + K, 0.3)
      const batch = sampleRegressionTasks(task, 6, "train", 1, 5)
      const expected = new Float64Array(values.length)
      const lossExpected = makeDeepGradient(s, task.n)(values, batch, expected)
      const simd = simdDeepKernel(module, s, task.n, 5)
      const copied = new Float64Array(values.length)
      const loss = simd(values, batch, copied)
      assert.approximately(loss, lossExpected, FLOAT64_IDENTITY * lossExpected, `K=${K}`)
      assert.isBelow(relativeError(copied, expected), FLOAT64_IDENTITY, `K=${K}`)
      const inPlace = simd.inPlace(5)
      inPlace.x.set(batch.x)
      inPlace.y.set(batch.y)
      inPlace.query.set(batch.query)
      inPlace.target.set(batch.target)
      const direct = new Float64Array(values.length)
      assert.isTrue(Object.is(simd(values, inPlace, direct), loss), `K=${K}: in place`)
      assertSameBits(direct, copied, `K=${K}: in place`)
    }
  })

  it("covers every activation without an embedding; an embedding, or no module, stays in JavaScript", () => {
    const module = kernelModule()
    const s = (activation: RegressionSpec["activation"]): RegressionSpec => ({ activation, d: 3, depth: 3, recurrent: false })
    for (const activation of ["linear", "relu", "exp", "softmax"] as const) assert.strictEqual(deepKernelKind(s(activation), module), "wasm-simd")
    assert.strictEqual(deepKernelKind(s("linear"), undefined), "javascript", "no module: JavaScript")
    const embedded = { ...s("linear"), embedding: { inputs: 3, hidden: [8], activation: "tanh" as const } }
    assert.isFalse(simdCovers(embedded))
    assert.strictEqual(deepKernelKind(embedded, module), "javascript")
    assert.throws(() => simdDeepKernel(module, embedded, 7, 4), /does not compute linear attention with an embedding/)
  })

  it("a step's chunks computed in WebAssembly and in JavaScript write the same partials, and sum to the same batch", () => {
    const module = kernelModule()
    const task = taskOf({ d: 3, n: 7 })
    // 71 tasks: two full chunks of 32 and one of 7 (odd: its last vector holds one task).
    for (const [batchSize, K, recurrent, activation] of [[71, 3, false, "linear"], [33, 5, true, "softmax"], [5, 2, false, "relu"]] as const) {
      const s: RegressionSpec = { activation, d: 3, depth: K, recurrent }
      const values = initRegressionWeights(s, 2, 0.3)
      const chunks = regressionChunkCount(batchSize)
      const partials = (simd: WebAssembly.Module | undefined) => {
        const out = new Float64Array(chunks * regressionPartialStride(s))
        const compute = makeRegressionChunkGradient({ spec: s, task, seed: 9, batchSize }, out, simd)
        for (let c = 0; c < chunks; c++) compute(values, 4, c)
        return out
      }
      const what = `${activation}, batch ${batchSize}, K=${K}, recurrent=${recurrent}`
      assertSameBits(partials(module), partials(undefined), what)
      const whole = sampleRegressionTasks(task, 9, "train", 4, batchSize)
      const simdGrads = new Float64Array(values.length)
      const jsGrads = new Float64Array(values.length)
      const simdLoss = makeChunkedDeepKernel(s, task.n, module)(values, whole, simdGrads)
      const jsLoss = makeChunkedDeepKernel(s, task.n)(values, whole, jsGrads)
      assert.isTrue(Object.is(simdLoss, jsLoss), `${what}: loss`)
      assertSameBits(simdGrads, jsGrads, `${what}: whole batch`)
    }
  })
})
