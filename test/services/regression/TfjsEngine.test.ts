import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type RegressionActivation, type RegressionConfig, regressionDefaults } from "../../../src/domain/regression/Config.js"
import { makeChunkedDeepKernel } from "../../../src/domain/regression/ChunkedGradient.js"
import { makeOneLayerKernel } from "../../../src/domain/regression/FusedKernel.js"
import { predictBatch, type RegressionSpec, squaredLoss, trainableMask } from "../../../src/domain/regression/Model.js"
import { sampleRegressionTasks } from "../../../src/domain/regression/Task.js"
import { regressionLossAndGradients, tfjsPredictions } from "../../../src/services/regression/TfjsEngine.js"
import { initRegressionWeights, RegressionTrainer, resolveRegressionEngine } from "../../../src/services/regression/Trainer.js"
import { TfBackend } from "../../../src/services/TfBackend.js"
import { centralDifferences, relativeError } from "../../helpers.js"

const ACTIVATIONS: ReadonlyArray<RegressionActivation> = ["linear", "relu", "exp", "softmax"]
/** float32 rounding (6e-8) accumulated over sums of a few hundred terms. */
const FLOAT32_AGREEMENT = 1e-5
/** Central differences of the float64 loss against float32 autodiff: the float32 gradient limits the agreement. */
const FLOAT32_VS_DIFFERENCES = 1e-4

const task = { ...regressionDefaults.task, family: "gp" as const, kernel: "exp" as const, inputs: "sphere" as const, d: 3, n: 10 }
const spec = (activation: RegressionActivation, depth: number, recurrent = false): RegressionSpec => ({ activation, d: 3, depth, recurrent })

layer(Layer.merge(RegressionTrainer.Default, TfBackend.Default))("TensorFlow.js regression engine", (it) => {
  it.effect("its forward pass equals the float64 model for every activation, 3 layers, recurrent or not", () =>
    Effect.gen(function* () {
      const { tf } = yield* (yield* TfBackend).acquire("auto")
      const batch = sampleRegressionTasks(task, 1, "evaluation", 0, 32)
      for (const activation of ACTIVATIONS) {
        for (const recurrent of [false, true]) {
          const s = spec(activation, 3, recurrent)
          const values = initRegressionWeights(s, 2, 0.15)
          const expected = predictBatch(s, values, batch, false).prediction
          assert.isBelow(relativeError(tfjsPredictions(tf, s, values, batch), expected), FLOAT32_AGREEMENT, `${activation} ${recurrent}`)
        }
      }
    })
  )

  it.effect("autodiff gradients match the fused engine (one layer) and central differences (two layers)", () =>
    Effect.gen(function* () {
      const { tf } = yield* (yield* TfBackend).acquire("auto")
      const batch = sampleRegressionTasks(task, 3, "train", 1, 24)
      for (const activation of ACTIVATIONS) {
        const one = spec(activation, 1)
        const values = initRegressionWeights(one, 4, 0.3)
        const fused = new Float64Array(values.length)
        const autodiff = new Float64Array(values.length)
        makeOneLayerKernel(one, task.n)(values, batch, fused)
        regressionLossAndGradients(tf, one, values, batch, autodiff)
        assert.isBelow(relativeError(autodiff, fused), FLOAT32_AGREEMENT, `${activation}, one layer`)

        const two = spec(activation, 2)
        const deep = initRegressionWeights(two, 5, 0.3)
        const grads = new Float64Array(deep.length)
        regressionLossAndGradients(tf, two, deep, batch, grads)
        const loss = () => squaredLoss(predictBatch(two, deep, batch, false).prediction, batch.target)
        const numeric = centralDifferences(deep, loss)
        assert.isBelow(relativeError(grads, numeric), FLOAT32_VS_DIFFERENCES, `${activation}, two layers`)
      }
    })
  )

  it.effect("the K-layer fused engine's gradients match autodiff, K = 1…5, every activation, recurrent or not", () =>
    Effect.gen(function* () {
      const { tf } = yield* (yield* TfBackend).acquire("auto")
      // Batches of 70 tasks: two full chunks and a partial one.
      const batch = sampleRegressionTasks(task, 6, "train", 2, 70)
      for (let K = 1; K <= 5; K++) {
        for (const activation of ACTIVATIONS) {
          for (const recurrent of [false, true]) {
            const s = spec(activation, K, recurrent)
            // Weights that keep a degree-(2K + 1) polynomial of order 1 (exp attention feeds labels into exponents).
            const values = initRegressionWeights(s, 7 + K, activation === "exp" ? 0.05 : K <= 2 ? 0.3 : 0.15)
            const fused = new Float64Array(values.length)
            const autodiff = new Float64Array(values.length)
            const fusedLoss = makeChunkedDeepKernel(s, task.n)(values, batch, fused)
            const autodiffLoss = regressionLossAndGradients(tf, s, values, batch, autodiff)
            const what = `${activation}, K = ${K}, recurrent ${recurrent}`
            assert.approximately(autodiffLoss, fusedLoss, FLOAT32_AGREEMENT * fusedLoss, what)
            assert.isBelow(relativeError(autodiff, fused), FLOAT32_AGREEMENT, what)
          }
        }
      }
    })
  )

  it.effect("with an MLP embedding: predictions equal the float64 model, gradients match central differences", () =>
    Effect.gen(function* () {
      const { tf } = yield* (yield* TfBackend).acquire("auto")
      const features = { ...task, family: "random-features" as const, inputs: "cube" as const, kernel: "linear" as const, d: 2 }
      const batch = sampleRegressionTasks(features, 8, "train", 1, 20)
      for (const activation of ["tanh", "relu"] as const) {
        for (const depth of [1, 2]) {
          const s: RegressionSpec = {
            activation: "linear",
            d: 4,
            depth,
            recurrent: false,
            embedding: { inputs: 2, hidden: [6, 5], activation }
          }
          const values = initRegressionWeights(s, 9, 0.3)
          const what = `${activation}, ${depth} layers`
          const expected = predictBatch(s, values, batch, false).prediction
          assert.isBelow(relativeError(tfjsPredictions(tf, s, values, batch), expected), FLOAT32_AGREEMENT, what)
          const grads = new Float64Array(values.length)
          regressionLossAndGradients(tf, s, values, batch, grads)
          const numeric = centralDifferences(values, () => squaredLoss(predictBatch(s, values, batch, false).prediction, batch.target))
          assert.isBelow(relativeError(grads, numeric), FLOAT32_VS_DIFFERENCES, what)
          assert.isAbove(Math.abs(grads[grads.length - 1]!), 0, "the embedding's last bias is trained")
        }
      }
    })
  )

  it.effect("the kernel form trains only A_xx and P_yy, on either engine, and keeps deep exp attention finite", () =>
    Effect.gen(function* () {
      const trainer = yield* RegressionTrainer
      for (const layers of [1, 3]) {
        const config: RegressionConfig = {
          ...regressionDefaults,
          task,
          model: { ...regressionDefaults.model, attention: "exp", layers, form: "kernel" },
          training: { ...regressionDefaults.training, learningRate: 0.01, batchSize: 64, steps: 40 }
        }
        const session = yield* trainer.open(config)
        const mask = trainableMask(session.spec)!
        let last = Number.NaN
        for (let step = 1; step <= 40; step++) last = session.stepNow(sampleRegressionTasks(task, 0, "train", step, 64))
        assert.isTrue(Number.isFinite(last))
        session.values.forEach((v, i) => {
          if (mask[i] === 0) assert.strictEqual(v, 0, `weight ${i} is outside the form`)
          else assert.notStrictEqual(v, session.initial[i], `weight ${i} is trained`)
        })
        // Per layer: the 9 entries of A_xx (d = 3) and P_yy.
        assert.strictEqual(mask.reduce((s, m) => s + m, 0), 10 * layers)
      }
    })
  )

  it.effect("a short run on each engine reaches the same loss (one layer)", () =>
    Effect.gen(function* () {
      const trainer = yield* RegressionTrainer
      const config = (engine: "fused" | "tfjs"): RegressionConfig => ({
        ...regressionDefaults,
        task,
        model: { ...regressionDefaults.model, attention: "softmax", engine },
        training: { ...regressionDefaults.training, learningRate: 0.01, batchSize: 64, steps: 60 }
      })
      const losses: Array<number> = []
      for (const engine of ["fused", "tfjs"] as const) {
        const session = yield* trainer.open(config(engine))
        assert.strictEqual(session.engine.engine, engine)
        for (let step = 1; step <= 60; step++) session.stepNow(sampleRegressionTasks(task, 0, "train", step, 64))
        const evaluation = sampleRegressionTasks(task, 0, "evaluation", 0, 500)
        losses.push(squaredLoss(predictBatch(session.spec, session.values, evaluation, false).prediction, evaluation.target))
      }
      // 60 Adam steps amplify float32 gradient rounding a little; the losses still agree to 0.1%.
      assert.approximately(losses[0]!, losses[1]!, 1e-3 * losses[0]!)
    })
  )
})

describe("engine choice", () => {
  it("auto picks the fused engine at every depth; an explicit choice is kept", () => {
    for (let K = 1; K <= 5; K++) assert.strictEqual(resolveRegressionEngine("auto", spec("exp", K)), "fused")
    assert.strictEqual(resolveRegressionEngine("tfjs", spec("exp", 1)), "tfjs")
    assert.strictEqual(resolveRegressionEngine("tfjs", spec("linear", 4)), "tfjs")
  })
})
