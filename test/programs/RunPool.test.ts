import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Scope } from "effect"
import { planSweep } from "../../src/programs/Registry.js"
import { makeRunPool, threadConfig } from "../../src/programs/RunPool.js"
import { checkpointStep } from "../../src/services/cluster/ClusterStore.js"

/** One small run, far longer than the test lets it train, with a checkpoint every 20 steps. */
const plan = Either.getOrThrow(
  planSweep({
    name: "pool",
    task: { n: 12 },
    training: { steps: 1_000_000, batchSize: 16 },
    evaluation: { every: 500_000, logSpacedPoints: 0, size: 60 },
    references: { gridSize: 60, scanSize: 30, cSigma: { min: 0.1, max: 100, count: 5 }, scale: { min: 0.01, max: 100, count: 5 } },
    runtime: { checkpointEvery: 20 }
  })
)

describe("RunPool", () => {
  it.live(
    "closing the pool while a run is on a thread (its caller not interrupted first) stops the run with a checkpoint at the step it reached, handed over, before the thread ends",
    () =>
      Effect.gen(function* () {
        const run = plan.runs[0]!
        const dir = mkdtempSync(join(tmpdir(), "icl-gd-pool-"))
        const scope = yield* Scope.make()
        const pool = yield* makeRunPool(1).pipe(Scope.extend(scope))
        const handedOver: Array<string> = []
        const first = yield* Deferred.make<void>()
        // The caller lives outside the pool's scope (as a cluster entity's fiber may outlive its runner's pool).
        const caller = yield* pool
          .run({ config: threadConfig(run.config), dir, recordedConfig: run.config }, run.id, (text) =>
            Effect.zipRight(Effect.sync(() => handedOver.push(text)), Deferred.succeed(first, undefined))
          )
          .pipe(Effect.forkDaemon)
        // Observed progress, not time: a checkpoint handed over means the run is training.
        yield* Deferred.await(first)
        yield* Scope.close(scope, Exit.void)

        const log = readFileSync(join(dir, "run.log"), "utf8")
        const stoppedAt = Number(/interrupted: checkpoint written at step (\d+)/.exec(log)?.[1])
        assert.isAbove(stoppedAt, 0, `the run stopped with a checkpoint:\n${log}`)
        assert.strictEqual(checkpointStep(readFileSync(join(dir, "checkpoint.json"), "utf8")), stoppedAt)
        assert.strictEqual(checkpointStep(handedOver.at(-1)!), stoppedAt, "the last checkpoint handed over is the one written as it stopped")
        assert.isFalse(existsSync(join(dir, "summary.json")))
        // The caller learns that its run was interrupted (a transient failure its caller may retry elsewhere).
        const exit = yield* Fiber.await(caller)
        assert.isTrue(Exit.isFailure(exit))
        // A closed pool starts nothing more.
        const again = yield* pool.run({ config: threadConfig(run.config), dir, recordedConfig: run.config }, run.id).pipe(Effect.exit)
        assert.isTrue(Exit.isInterrupted(again), String(again))
      }),
    120_000
  )
})
