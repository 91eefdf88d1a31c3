/**
 * The WebAssembly SIMD kernel against the JavaScript engine it replaces: the same bits, not merely close values.
 * Its sampler draws Task.sampleTasks' tasks and its loss and gradient are FusedKernel's, for every attention kind,
 * with and without the query key, and for shapes that fill no vector evenly: odd d, odd n, a chunk of one or three
 * tasks (vectors of four tasks while sampling, two while differentiating). The kernel is built by the test set-up
 * (scripts/build.mjs); a kernel that does not load fails these tests rather than skipping them.
 */
import { assert, describe, it } from "@effect/vitest"
import { chunkCount, makeChunkGradient, partialStride } from "../../../src/domain/classification/ChunkedGradient.js"
import { defaults } from "../../../src/domain/classification/Config.js"
import { lossAndGradients } from "../../../src/domain/classification/FusedGradient.js"
import { referencePredict } from "../../../src/domain/classification/GdMath.js"
import { gridSearch } from "../../../src/domain/classification/GridSearch.js"
import { makeFusedKernel } from "../../../src/domain/classification/FusedKernel.js"
import { forwardBatch, initWeights, type ModelSpec } from "../../../src/domain/classification/Model.js"
import { samplesInWasm, simdChunks, simdEvaluator } from "../../../src/domain/classification/SimdKernel.js"
import { sampleTasks, sliceBatch } from "../../../src/domain/classification/Task.js"
import { classificationKernel } from "../../../src/services/Kernels.js"
import { FLOAT64_IDENTITY, relativeError, spec, task } from "../../helpers.js"

const kernelModule = () => {
  const load = classificationKernel()
  if (!load.loaded) assert.fail(`the SIMD kernel did not load: ${load.reason}`)
  return load.module
}

/** Bitwise equality of two arrays (NaN equal to NaN; 0 and −0 told apart), with the first difference in the message. */
const assertSameBits = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
  assert.strictEqual(actual.length, expected.length, `${what}: length`)
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: entry ${i} is ${actual[i]}, JavaScript's is ${expected[i]}`)
  }
}

const SHAPES = [
  { d: 5, C: 5, n: 100 },
  { d: 3, C: 4, n: 7 },
  { d: 1, C: 2, n: 1 },
  { d: 2, C: 3, n: 2 },
  { d: 7, C: 6, n: 13 }
] as const

describe("SIMD sampler", () => {
  it("draws Task.sampleTasks' tasks bit for bit: every family and option, shapes and counts that fill no vector", () => {
    const module = kernelModule()
    const configs = [
      ...SHAPES.map((shape) => task(shape)),
      task({ d: 5, C: 5, n: 30, noise: 2.5 }),
      // Sampled in JavaScript and copied into the kernel's memory:
      task({ d: 3, C: 4, n: 9, balanced: true }),
      task({ d: 3, C: 4, n: 9, queryClassInContext: true }),
      task({ family: "voronoi", d: 3, C: 4, n: 9 })
    ]
    for (const config of configs) {
      const chunks = simdChunks(module, spec("softmax", config.d, config.C), config, 32)
      for (const { seed, counter, first, count } of [
        { seed: 0, counter: 1, first: 0, count: 32 },
        { seed: 3, counter: 17, first: 64, count: 3 },
        { seed: 2 ** 40 + 5, counter: 2 ** 31 + 3, first: 7, count: 1 },
        { seed: 9, counter: 0, first: 100, count: 30 }
      ]) {
        chunks.sample(seed, "train", counter, first, count)
        const ours = chunks.read(count)
        const theirs = sampleTasks(config, seed, "train", counter, count, first)
        const what = `${JSON.stringify(config)} seed ${seed} counter ${counter} tasks ${first}+${count}`
        assertSameBits(ours.x, theirs.x, `${what}: x`)
        assertSameBits(ours.labels, theirs.labels, `${what}: labels`)
        assertSameBits(ours.query, theirs.query, `${what}: query`)
        assertSameBits(ours.queryLabel, theirs.queryLabel, `${what}: query labels`)
      }
      assert.strictEqual(samplesInWasm(config), config.family === "cluster" && !config.balanced && !config.queryClassInContext)
    }
  })

  it("draws the pinned training stream (Task.test.ts) and takes the ziggurat's wedges and tail as JavaScript does", () => {
    const module = kernelModule()
    const chunks = simdChunks(module, spec("softmax", 5, 5), task(), 32)
    chunks.sample(0, "train", 1, 0, 4)
    const batch = chunks.read(4)
    assert.deepStrictEqual(Array.from(batch.x.subarray(0, 3)), [-0.1788858935181076, 0.7382766569127611, -0.40159917425096725])
    assert.deepStrictEqual(Array.from(batch.queryLabel), [1, 2, 0, 1])
    // A chunk of 32 tasks × 530 normals has about 73 draws outside the 1024-layer ziggurat's rectangles (0.43%) and
    // 0.9 in its tail (5.4e-5 of draws: P(layer 0) · (1 − r·f(r)/v)): 100 chunks take about 90 tail draws and 7,300
    // wedge tests, each of which a sampler that finished it differently would show here.
    const config = task()
    for (let counter = 0; counter < 100; counter++) {
      chunks.sample(11, "train", counter, 0, 32)
      assertSameBits(chunks.read(32).x, sampleTasks(config, 11, "train", counter, 32).x, `chunk ${counter}`)
    }
  })
})

describe("SIMD loss and gradient", () => {
  const kinds: ReadonlyArray<[ModelSpec["attention"], boolean]> = [
    ["linear", true],
    ["linear", false],
    ["exp", true],
    ["softmax", false],
    ["softmax", true]
  ]

  it("are FusedKernel's bit for bit, for every attention kind, with and without the query key, on every shape", () => {
    const module = kernelModule()
    for (const shape of SHAPES) {
      for (const [attention, attendToQuery] of kinds) {
        // exp attention with a shift, which only it reads.
        const s = { ...spec(attention, shape.d, shape.C, attendToQuery), expShift: attention === "exp" ? 0.25 : 0 }
        const config = task(shape)
        const weights = initWeights(s, 5, 0.7)
        const jsKernel = makeFusedKernel(s)
        const chunks = simdChunks(module, s, config, 32)
        for (const count of [32, 3, 1]) {
          const batch = sampleTasks(config, 1, "train", 4, count)
          chunks.load(batch, 0, count)
          const D = shape.d + shape.C
          const ours = { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
          const theirs = { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
          // A chunk of a larger batch: its share of the batch's mean.
          const batchSize = count + 61
          const loss = chunks.lossAndGradient(weights, count, batchSize, ours)
          const jsLoss = jsKernel(weights, batch, theirs, batchSize)
          const what = `${attention}${attendToQuery ? " with query key" : ""} d ${shape.d} C ${shape.C} n ${shape.n}, ${count} tasks`
          assert.isTrue(Object.is(loss, jsLoss), `${what}: loss ${loss} against ${jsLoss}`)
          assertSameBits(ours.kq, theirs.kq, `${what}: W_KQ gradient`)
          assertSameBits(ours.pv, theirs.pv, `${what}: W_PV gradient`)
        }
      }
    }
  })

  it("match the float64 reference gradient (FusedGradient, Math.exp) to rounding", () => {
    const module = kernelModule()
    for (const [attention, attendToQuery] of kinds) {
      const s = spec(attention, 5, 4, attendToQuery)
      const config = task({ d: 5, C: 4, n: 40 })
      const weights = initWeights(s, 2, 0.5)
      const batch = sampleTasks(config, 3, "train", 2, 31)
      const chunks = simdChunks(module, s, config, 32)
      chunks.load(batch, 0, 31)
      const ours = { kq: new Float64Array(81), pv: new Float64Array(81) }
      const reference = { kq: new Float64Array(81), pv: new Float64Array(81) }
      const loss = chunks.lossAndGradient(weights, 31, 31, ours)
      const referenceLoss = lossAndGradients(s, weights, batch, reference)
      // FastExp (2 ulp) against Math.exp, through sums of ~40 terms: far inside FLOAT64_IDENTITY.
      assert.isBelow(Math.abs(loss - referenceLoss) / referenceLoss, FLOAT64_IDENTITY, `${attention}: loss`)
      assert.isBelow(relativeError(ours.kq, reference.kq), FLOAT64_IDENTITY, `${attention}: W_KQ gradient`)
      assert.isBelow(relativeError(ours.pv, reference.pv), FLOAT64_IDENTITY, `${attention}: W_PV gradient`)
    }
  })

  it("a step's chunks computed in WebAssembly and in JavaScript write the same partials", () => {
    const module = kernelModule()
    for (const attention of ["linear", "softmax", "exp"] as const) {
      for (const batchSize of [100, 32, 1]) {
        for (const config of [task({ d: 5, C: 4, n: 30 }), task({ d: 3, C: 3, n: 11, balanced: true })]) {
          const s = spec(attention, config.d, config.C)
          const D = config.d + config.C
          const chunks = chunkCount(batchSize)
          const wasm = new Float64Array(chunks * partialStride(D))
          const js = new Float64Array(chunks * partialStride(D))
          const input = { spec: s, task: config, seed: 6, batchSize }
          const simdChunk = makeChunkGradient(input, wasm, module)
          const jsChunk = makeChunkGradient(input, js)
          const weights = initWeights(s, 1, 0.4)
          for (const step of [1, 2]) {
            for (let c = 0; c < chunks; c++) {
              simdChunk(weights, step, c)
              jsChunk(weights, step, c)
            }
            assertSameBits(wasm, js, `${attention}, batch ${batchSize}, ${JSON.stringify(config)}, step ${step}`)
          }
        }
      }
    }
  })
})

describe("SIMD grid search", () => {
  it("finds the same grid optima, basins and landscape as the JavaScript search, bit for bit", () => {
    const module = kernelModule()
    const ranges = { ...defaults.references, cSigma: { min: 0.1, max: 1000, count: 9 }, scale: { min: 0.01, max: 3162, count: 7 }, scanSize: 301 }
    for (const config of [task({ d: 5, C: 5, n: 30 }), task({ d: 3, C: 4, n: 11 })]) {
      // An odd number of tasks, an odd scan head: both fill their last vector half.
      const set = sampleTasks(config, 2002, "grid", 0, 603)
      for (const [kind, selfAttend] of [["gd-linear", false], ["kgd-fixed", false], ["ca-kgd", false], ["ca-kgd", true]] as const) {
        const shape = { kind, D: config.d + config.C, selfAttend }
        const javaScript = gridSearch(shape, set, ranges)
        const simd = gridSearch(shape, set, ranges, module)
        assert.deepStrictEqual(simd, javaScript, `${kind}${selfAttend ? " attending to the query" : ""}, d ${config.d}`)
      }
    }
  })
})

describe("SIMD evaluation", () => {
  it("gives Model.forwardBatch's logits and ∂z/∂x_q bit for bit, for every attention kind, with and without the query key", () => {
    const module = kernelModule()
    for (const shape of SHAPES) {
      const config = task(shape)
      const set = sampleTasks(config, 8, "evaluation", 0, 9)
      for (const [attention, attendToQuery] of [["linear", true], ["linear", false], ["exp", true], ["softmax", false], ["softmax", true]] as const) {
        const s = { ...spec(attention, shape.d, shape.C, attendToQuery), expShift: attention === "exp" ? 0.5 : 0 }
        const weights = initWeights(s, 4, 0.8)
        // Contexts 2…8: an odd count, not starting at the set's first.
        const ours = simdEvaluator(module, set, 2, 9).predict(s, weights)
        const theirs = forwardBatch(s, weights, sliceBatch(set, [2, 3, 4, 5, 6, 7, 8]), true)
        const what = `${attention}${attendToQuery ? " with query key" : ""} d ${shape.d} C ${shape.C} n ${shape.n}`
        assertSameBits(ours.logits, theirs.logits, `${what}: logits`)
        assertSameBits(ours.jacobians, theirs.jacobians!, `${what}: Jacobians`)
      }
    }
  })
  it("gives GdMath.referencePredict's logits and Jacobians bit for bit, for each reference a model matches", () => {
    const module = kernelModule()
    for (const shape of SHAPES) {
      const config = task(shape)
      const set = sampleTasks(config, 8, "evaluation", 0, 9)
      const evaluator = simdEvaluator(module, set, 0, 9)
      for (const [kind, selfAttend] of [["gd-linear", false], ["kgd-fixed", false], ["ca-kgd", false], ["ca-kgd", true]] as const) {
        for (const params of [{ cSigma: 3.5, scale: 7 }, { cSigma: -40, scale: -900 }]) {
          const refShape = { kind, D: shape.d + shape.C, selfAttend }
          const ours = evaluator.predictReference(refShape, params)!
          const theirs = referencePredict(refShape, params, set, true)
          const what = `${kind}${selfAttend ? " attending to the query" : ""} d ${shape.d} C ${shape.C} n ${shape.n} c_σ ${params.cSigma}`
          assertSameBits(ours.logits, theirs.logits, `${what}: logits`)
          assertSameBits(ours.jacobians, theirs.jacobians!, `${what}: Jacobians`)
        }
      }
      assert.isUndefined(evaluator.predictReference({ kind: "ca-gd-linear", D: shape.d + shape.C, selfAttend: false }, { cSigma: 1, scale: 1 }))
    }
  })
})
