import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { lossAndGradients } from "../../../src/domain/classification/FusedGradient.js"
import { forwardBatch, initWeights, type Weights } from "../../../src/domain/classification/Model.js"
import { perContext, performance } from "../../../src/domain/classification/Metrics.js"
import { ModelTrainer } from "../../../src/services/classification/ModelTrainer.js"
import { TfBackend } from "../../../src/services/TfBackend.js"
import { tfjsLossAndGradients } from "../../../src/services/classification/TfjsEngine.js"
import { relativeError, spec, tasks, tinyConfig } from "../../helpers.js"

/**
 * TensorFlow.js computes in float32: a sum over B·n = 1,600 terms carries a relative rounding error of about
 * √1600 · 6e-8 ≈ 2.4e-6, so 1e-5 leaves a margin of four.
 */
const FLOAT32_GRADIENT = 1e-5
/** Central differences of a float64 loss with h = 1e-4 against float32 autodiff: float32 rounding dominates. */
const FLOAT32_VS_FINITE_DIFFERENCE = 1e-4

const d = 5
const C = 5
const batch = tasks({ d, C, n: 40 }, 40, 21)
const weightsFor = (s: ReturnType<typeof spec>) => initWeights(s, 9, 0.5)
const float64Loss = (s: ReturnType<typeof spec>, w: Weights) =>
  performance(perContext(forwardBatch(s, w, batch, false).logits, batch.queryLabel, C)).loss

describe("TensorFlow.js engine", () => {
  layer(TfBackend.Default)((it) => {
    it.effect("auto picks a backend that loads and reports its name", () =>
      Effect.gen(function* () {
        const backend = yield* (yield* TfBackend).acquire("auto")
        assert.include(["tfjs-node", "wasm", "cpu"], backend.name)
        assert.strictEqual(backend.tf.getBackend(), backend.name === "tfjs-node" ? "tensorflow" : backend.name)
      })
    )

    for (const attention of ["linear", "softmax", "exp"] as const) {
      it.effect(`${attention}: autodiff gradients match the fused engine and finite differences`, () =>
        Effect.gen(function* () {
          const { tf } = yield* (yield* TfBackend).acquire("auto")
          const s = spec(attention, d, C)
          const w = weightsFor(s)
          const D = w.D
          const viaTf = { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
          const fused = { kq: new Float64Array(D * D), pv: new Float64Array(D * D) }
          const lossTf = tfjsLossAndGradients(tf, s, w, batch, viaTf)
          const lossFused = lossAndGradients(s, w, batch, fused)
          assert.isBelow(Math.abs(lossTf - lossFused) / lossFused, FLOAT32_GRADIENT)
          assert.isBelow(relativeError(viaTf.kq, fused.kq), FLOAT32_GRADIENT, "∇W_KQ vs fused")
          assert.isBelow(relativeError(viaTf.pv, fused.pv), FLOAT32_GRADIENT, "∇W_PV vs fused")
          const h = 1e-4
          for (const [which, index] of [["kq", 0], ["kq", 1 * D + 2], ["kq", 7 * D + 3], ["pv", 6 * D + 1], ["pv", 8 * D + 9]] as const) {
            const plus = { ...w, [which]: w[which].slice() }
            const minus = { ...w, [which]: w[which].slice() }
            plus[which][index]! += h
            minus[which][index]! -= h
            const numerical = (float64Loss(s, plus) - float64Loss(s, minus)) / (2 * h)
            const scale = Math.max(...Array.from(fused[which], Math.abs))
            assert.isBelow(Math.abs(viaTf[which][index]! - numerical) / scale, FLOAT32_VS_FINITE_DIFFERENCE, `${which}[${index}]`)
          }
        })
      )
    }
  })

  layer(ModelTrainer.DefaultWithoutDependencies.pipe(Layer.provideMerge(TfBackend.Default)))((it) => {
    it.effect("training steps leak no tensors and never move the unreachable blocks", () =>
      Effect.gen(function* () {
        const trainer = yield* ModelTrainer
        const backend = yield* (yield* TfBackend).acquire("auto")
        const session = yield* trainer.open(tinyConfig({ model: { engine: "tfjs", attention: "softmax" } }))
        assert.strictEqual(session.engine.engine, "tfjs")
        yield* session.step(batch)
        const before = backend.tf.memory().numTensors
        for (let i = 0; i < 5; i++) yield* session.step(batch)
        assert.strictEqual(backend.tf.memory().numTensors, before)
        const { D } = session.weights
        let moved = 0
        for (let r = 0; r < D; r++) {
          for (let c = 0; c < D; c++) {
            if (c >= d) assert.strictEqual(session.weights.kq[r * D + c], session.initial.kq[r * D + c])
            if (r < d) assert.strictEqual(session.weights.pv[r * D + c], session.initial.pv[r * D + c])
            if (session.weights.kq[r * D + c] !== session.initial.kq[r * D + c]) moved++
          }
        }
        assert.isAbove(moved, 0, "the trainable blocks moved")
      })
    )

    it.effect("restricted blocks: only A and B_yy train, from the full model's initial values; every other entry stays 0", () =>
      Effect.gen(function* () {
        const trainer = yield* ModelTrainer
        for (const engine of ["fused", "tfjs"] as const) {
          for (const attention of ["linear", "softmax"] as const) {
            const full = yield* trainer.open(tinyConfig({ model: { engine, attention } }))
            const restricted = yield* trainer.open(tinyConfig({ model: { engine, attention, restrictBlocks: true } }))
            const { D } = restricted.weights
            const inA = (r: number, c: number) => r < d && c < d
            const inB = (r: number, c: number) => r >= d && c >= d
            for (let i = 0; i < D * D; i++) {
              const [r, c] = [Math.floor(i / D), i % D]
              assert.strictEqual(restricted.initial.kq[i], inA(r, c) ? full.initial.kq[i] : 0, `initial W_KQ[${r}, ${c}]`)
              assert.strictEqual(restricted.initial.pv[i], inB(r, c) ? full.initial.pv[i] : 0, `initial W_PV[${r}, ${c}]`)
            }
            const losses: Array<number> = []
            for (let step = 0; step < 40; step++) losses.push(yield* restricted.step(batch))
            let movedA = 0
            let movedB = 0
            for (let i = 0; i < D * D; i++) {
              const [r, c] = [Math.floor(i / D), i % D]
              if (!inA(r, c)) assert.strictEqual(restricted.weights.kq[i], 0, `${engine}/${attention}: W_KQ[${r}, ${c}] stays 0`)
              if (!inB(r, c)) assert.strictEqual(restricted.weights.pv[i], 0, `${engine}/${attention}: W_PV[${r}, ${c}] stays 0`)
              if (inA(r, c) && restricted.weights.kq[i] !== restricted.initial.kq[i]) movedA++
              if (inB(r, c) && restricted.weights.pv[i] !== restricted.initial.pv[i]) movedB++
            }
            assert.strictEqual(movedA, d * d, `${engine}/${attention}: every entry of A trains`)
            assert.strictEqual(movedB, C * C, `${engine}/${attention}: every entry of B_yy trains`)
            assert.isBelow(losses[39]!, losses[0]!, `${engine}/${attention}: the loss went down`)
            const probe = yield* restricted.gradients(batch)
            assert.strictEqual(probe.grads.kq[d * D], 0, "the probe's gradient is restricted too (A_yx)")
          }
        }
      })
    )

    it.effect("both engines follow the same trajectory over 30 Adam steps", () =>
      Effect.gen(function* () {
        const trainer = yield* ModelTrainer
        const losses = { fused: [] as Array<number>, tfjs: [] as Array<number> }
        for (const engine of ["fused", "tfjs"] as const) {
          const session = yield* trainer.open(tinyConfig({ model: { engine, attention: "softmax" } }))
          for (let step = 0; step < 30; step++) losses[engine].push(yield* session.step(batch))
        }
        // float32 vs float64 arithmetic over 30 steps: Adam normalises each step, so differences stay near 1e-5.
        assert.isBelow(relativeError(losses.tfjs, losses.fused), 1e-4)
        assert.isBelow(losses.fused[29]!, losses.fused[0]!, "the loss went down")
      })
    )
  })
})
