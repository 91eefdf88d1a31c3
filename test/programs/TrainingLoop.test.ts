import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import { makePhaseClock, selfSampledSteps, trainingLoop, type LoopPosition } from "../../src/programs/TrainingLoop.js"
import { RunStore } from "../../src/services/RunStore.js"

const StoreLive = RunStore.DefaultWithoutDependencies.pipe(Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))

describe("trainingLoop", () => {
  it.effect("an interrupt that arrives during an evaluation point lands after it: the checkpoint at that step holds its row", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "icl-gd-loop-"))
      // The evaluation at step 3 waits (as one shared with helper threads does) until the test lets it finish; the
      // interrupt is sent while it waits.
      const evaluating = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const checkpoints: Array<LoopPosition> = []
      const fiber = yield* Effect.fork(
        trainingLoop({
          runId: "loop",
          file: (name) => join(dir, name),
          steps: 10,
          schedule: new Set([3, 10]),
          checkpointEvery: 100,
          progress: false,
          phases: makePhaseClock(),
          resumed: Option.none(),
          evaluate: (step) =>
            step === 3
              ? Deferred.succeed(evaluating, undefined).pipe(Effect.zipRight(Deferred.await(gate)), Effect.as({ point: { step } }))
              : Effect.succeed({ point: { step } }),
          logEvaluation: () => Effect.void,
          checkpoint: (position) => (checkpoints.push(position), JSON.stringify(position.step)),
          batches: (first) => Effect.succeed(selfSampledSteps(first, () => 1)),
          step: (takeStep) => takeStep()
        })
      )
      yield* Deferred.await(evaluating)
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(interrupting)
      rmSync(dir, { recursive: true, force: true })
      const saved = checkpoints[checkpoints.length - 1]!
      assert.isDefined(saved, "a checkpoint is written on the interrupt")
      // Every scheduled step up to the checkpoint's has its row (a resumed run never evaluates it again).
      const steps = saved.rows.map((row) => (JSON.parse(row) as { step: number }).step)
      assert.deepStrictEqual(steps, [0, 3].filter((s) => s <= saved.step))
      assert.isTrue(saved.step >= 3, `checkpointed at step ${saved.step}`)
    }).pipe(Effect.provide(StoreLive))
  )
})
