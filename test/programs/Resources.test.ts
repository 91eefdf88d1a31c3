/**
 * Limits refused up front: counts past their sane bound are config errors; a run whose estimated memory (from its
 * config) does not fit is refused with the fields, the estimate and the memory available, before anything is written.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { parseSweepText } from "../../src/programs/LoadConfig.js"
import { checkMemory } from "../../src/programs/Resources.js"
import { runCli, withConfig } from "../support/cli.js"

const GB = 2 ** 30
const plan = (config: unknown) => parseSweepText(JSON.stringify(config), "cfg.json")

describe("limits refused up front", () => {
  it("counts past their bound are refused with the bound (the issue's task.n, task.d and references.cSigma.count of 1e9)", () => {
    for (const [config, says] of [
      [{ task: { n: 1e9 } }, "task.n: expected a positive integer of at most 100,000, got 1000000000"],
      [{ task: { d: 1e9 } }, "task.d: expected a positive integer of at most 4,096, got 1000000000"],
      [{ references: { cSigma: { count: 1e9 } } }, "an integer count from 1 to 10,000"],
      [{ task: { family: "gp", n: 1e9 } }, "task.n: expected a positive integer of at most 100,000"],
      [{ training: { batchSize: 1e8 } }, "training.batchSize: expected a positive integer of at most 1,000,000"],
      [{ task: { n: -3 } }, "task.n: expected a positive integer, got -3"]
    ] as const) {
      const result = plan(config)
      assert.isTrue(Either.isLeft(result), JSON.stringify(config))
      assert.include(Either.isLeft(result) ? result.left.message : "", says)
    }
  })

  it.effect("a run that cannot fit is refused with the fields that make it large, its estimate and the memory available; -j is lowered when one run fits", () =>
    Effect.gen(function* () {
      const available = 16 * GB
      for (const [config, field] of [
        [{ evaluation: { size: 1e7 } }, "evaluation set (evaluation.size = 10000000"],
        [{ references: { gridSize: 1e7 } }, "grid-search set (references.gridSize = 10000000"],
        [{ task: { family: "gp", n: 20_000 }, training: { batchSize: 100_000 } }, "training batches (training.batchSize = 100000, task.n = 20000"]
      ] as const) {
        const error = yield* Effect.flip(checkMemory(Either.getOrThrow(plan(config)), 1, available))
        assert.strictEqual(error._tag, "ResourceLimit")
        assert.isAbove(error.estimate, available)
        assert.include(error.message, field)
        assert.include(error.message, "more than the 16.0 GB this machine has for it")
        assert.include(error.message, "nothing was written")
      }
      // 4 GB a run: one fits, four at a time do not.
      const sweep = Either.getOrThrow(plan({ evaluation: { size: 550_000 }, sweep: { seeds: [0, 1, 2, 3] } }))
      yield* checkMemory(sweep, 1, available)
      const parallel = yield* Effect.flip(checkMemory(sweep, 4, available))
      assert.include(parallel.message, "(4 at a time:")
      assert.match(parallel.advice, /^Run fewer at a time: -j [123]\.$/)
    })
  )

  it.effect("every example config fits at -j 2 on a machine with 8 GB", () =>
    Effect.gen(function* () {
      const folder = join(import.meta.dirname, "..", "..", "examples")
      const files = [...readdirSync(folder).filter((f) => f.endsWith(".json")), ...readdirSync(join(folder, "quick")).map((f) => join("quick", f))]
      for (const file of files) {
        const planned = parseSweepText(readFileSync(join(folder, file), "utf8"), file)
        if (Either.isRight(planned)) yield* checkMemory(planned.right, 2, 8 * GB * 0.9)
      }
    })
  )

  it("through the CLI: exit 2, the field and the estimate, nothing written", async () => {
    const { dir, file } = withConfig({ evaluation: { size: 10_000_000 }, output: { dir: "out" } })
    const result = await runCli(["run", file], dir)
    assert.strictEqual(result.status, 2, result.stderr)
    assert.match(result.stderr, /needs about \d+\.\d GB of memory/)
    assert.include(result.stderr, "evaluation.size = 10000000")
    assert.notMatch(result.stderr, /\n\s+at /)
    assert.deepStrictEqual(readdirSync(dir), ["config.json"])
  })
})
