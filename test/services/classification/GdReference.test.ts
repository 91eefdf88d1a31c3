import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { defaults } from "../../../src/domain/classification/Config.js"
import { GdReference } from "../../../src/services/classification/GdReference.js"
import { task } from "../../helpers.js"

describe("GD reference grid search", () => {
  it.live("a search on a worker thread finds the same grid, landscape included, as one on this thread", () =>
    Effect.gen(function* () {
      const references = { ...defaults.references, gridSize: 300, scanSize: 150, cSigma: { min: 0.1, max: 100, count: 7 } }
      const shape = { kind: "kgd-fixed" as const, D: 9, selfAttend: false }
      const taskConfig = task({ d: 5, C: 4, n: 20 })
      // Two services, so that neither answers from the other's cache.
      const onThread = yield* Effect.flatMap(GdReference, (r) => r.gridOptimum(taskConfig, references, shape)).pipe(Effect.provide(GdReference.Default))
      // The worker's failure would fall back to this thread with a warning: none may be logged.
      const warnings: Array<unknown> = []
      const collect = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => warnings.push(message)))
      const onWorker = yield* Effect.flatMap(GdReference, (r) => r.gridOptimum(taskConfig, references, shape, true)).pipe(
        Effect.provide(GdReference.Default),
        Effect.provide(collect)
      )
      assert.deepStrictEqual(warnings, [])
      assert.deepStrictEqual(onWorker, onThread)
      assert.isTrue(Number.isFinite(onWorker.best.loss))
    })
  )
})
