import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { decodeConfig, defaults, ExperimentConfig } from "../../src/domain/Config.js"
import { configHash, runIdOf } from "../../src/domain/RunId.js"

const decodeOk = (value: unknown) => Either.getOrThrow(decodeConfig(value))

describe("config", () => {
  it("an empty config resolves to the defaults (the paper's main setting)", () => {
    const config = decodeOk({})
    assert.deepStrictEqual({ ...config, model: { ...config.model, attendToQuery: "auto" } }, defaults)
    assert.deepStrictEqual([config.task.d, config.task.C, config.task.n], [5, 5, 100])
    assert.isFalse(config.model.attendToQuery, "softmax attention attends to the context only")
    assert.isTrue(decodeOk({ model: { attention: "linear" } }).model.attendToQuery)
  })

  it("spelling out a default does not change the run id; changing a value or the seed does, the output folder does not", () => {
    const base = decodeOk({ name: "x" })
    assert.strictEqual(configHash(decodeOk({ name: "x", task: { d: 5 }, training: { batchSize: 512 } })), configHash(base))
    assert.notStrictEqual(configHash(decodeOk({ name: "x", task: { d: 6 } })), configHash(base))
    assert.notStrictEqual(configHash(decodeOk({ name: "x", seed: 1 })), configHash(base))
    assert.strictEqual(configHash(decodeOk({ name: "x", output: { dir: "elsewhere" } })), configHash(base))
    assert.match(runIdOf(base), /^x-[0-9a-f]{12}$/)
  })

  it("collects every problem at once, each with its path", () => {
    const result = decodeConfig({ seed: -1, task: { C: 1, noise: -0.1 }, training: { beta1: 1 }, name: "bad name" })
    assert.isTrue(Either.isLeft(result))
    const paths = Either.isLeft(result) ? result.left.map((i) => i.path).sort() : []
    assert.deepStrictEqual(paths, ["name", "seed", "task.C", "task.noise", "training.beta1"])
  })

  it("a resolved config round-trips through its schema (as stored in config.json)", () => {
    const config = decodeOk({ model: { attention: "exp", expShift: 1.5 }, task: { family: "voronoi" } })
    const stored = JSON.parse(JSON.stringify(config))
    assert.deepStrictEqual(Schema.decodeUnknownSync(ExperimentConfig)(stored), config)
  })
})
