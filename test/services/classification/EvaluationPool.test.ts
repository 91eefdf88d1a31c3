import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { referencePredict } from "../../../src/domain/classification/GdMath.js"
import { forwardBatch, initWeights } from "../../../src/domain/classification/Model.js"
import { allocateBatch, sampleTasks } from "../../../src/domain/classification/Task.js"
import { makeEvaluationPool, MIN_SHARE } from "../../../src/services/classification/EvaluationPool.js"
import { spec, task } from "../../helpers.js"

describe("evaluation pool", () => {
  it.live("one or two helper threads give bit for bit the predictions of this thread alone, for the model and each reference", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const pool = yield* makeEvaluationPool
        const config = task({ d: 4, C: 3, n: 15 })
        // A frozen set in shared memory, of a size that splits unevenly.
        const size = 3 * MIN_SHARE + 7
        const set = sampleTasks(config, 5, "evaluation", 0, size, 0, allocateBatch(size, config.n, config.d, config.C, true))
        for (const attention of ["linear", "softmax", "exp"] as const) {
          const s = spec(attention, config.d, config.C)
          const weights = initWeights(s, 3, 0.6)
          const alone = forwardBatch(s, weights, set, true)
          for (const helpers of [0, 1, 2]) {
            const before = pool.helperShares()
            const shared = yield* pool.predict({ kind: "model", spec: s, weights }, set, helpers)
            assert.deepStrictEqual(Array.from(shared.logits), Array.from(alone.logits), `${attention}, ${helpers} helper(s): logits`)
            assert.deepStrictEqual(Array.from(shared.jacobians!), Array.from(alone.jacobians!), `${attention}, ${helpers} helper(s): Jacobians`)
            assert.strictEqual(pool.helperShares() - before, helpers, `${attention}: every helper computed a share`)
          }
        }
        for (const kind of ["gd-linear", "kgd-fixed", "ca-kgd"] as const) {
          const shape = { kind, D: config.d + config.C, selfAttend: false }
          const params = { cSigma: -3.5, scale: 7 }
          const alone = referencePredict(shape, params, set, true)
          const shared = yield* pool.predict({ kind: "reference", shape, params }, set, 2)
          assert.deepStrictEqual(Array.from(shared.logits), Array.from(alone.logits), `${kind}: logits`)
          assert.deepStrictEqual(Array.from(shared.jacobians!), Array.from(alone.jacobians!), `${kind}: Jacobians`)
        }
      })
    )
  , 60_000)
})
