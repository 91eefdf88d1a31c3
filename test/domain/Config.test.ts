import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { decodeConfig, defaults, ExperimentConfig } from "../../src/domain/classification/Config.js"
import { isRegressionConfig, regressionDefaults } from "../../src/domain/regression/Config.js"
import { configHash, runIdOf } from "../../src/domain/RunId.js"
import { decodeRunConfig, planSweep } from "../../src/programs/Registry.js"

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

describe("regression config", () => {
  const decode = (value: unknown) => decodeRunConfig(value)
  const problems = (value: unknown) => {
    const result = decode(value)
    return Either.isLeft(result) ? result.left.map((i) => `${i.path}: ${i.message}`) : []
  }

  it("task.family picks the schema: a regression family resolves to von Oswald et al.'s defaults", () => {
    const config = Either.getOrThrow(decode({ task: { family: "linear-regression" } }))
    assert.isTrue(isRegressionConfig(config))
    if (!isRegressionConfig(config)) return
    assert.deepStrictEqual({ ...config, task: { ...config.task, inputs: "auto" } }, regressionDefaults)
    assert.strictEqual(config.task.inputs, "cube")
    const gp = Either.getOrThrow(decode({ task: { family: "gp", kernel: "relu" } }))
    assert.strictEqual(isRegressionConfig(gp) ? gp.task.inputs : undefined, "sphere")
    assert.isFalse(isRegressionConfig(Either.getOrThrow(decode({}))))
  })

  it("each kind reports the other kind's fields as unknown, and a misspelt family names every family", () => {
    assert.deepStrictEqual(
      problems({ task: { family: "gp", C: 3 } }).map((p) => p.split(":")[0]),
      ["task.C"]
    )
    assert.deepStrictEqual(problems({ task: { family: "cluster", kernel: "exp" } }).map((p) => p.split(":")[0]), ["task.kernel"])
    const [typo] = problems({ task: { family: "gps" } })
    assert.include(typo, "task.family")
    assert.include(typo, `"gp"`)
    assert.include(typo, `"voronoi"`)
  })

  it("combinations that make no experiment are refused with the field at fault", () => {
    assert.deepStrictEqual(problems({ task: { family: "linear-regression", kernel: "exp" } }).map((p) => p.split(":")[0]), ["task.kernel"])
    assert.deepStrictEqual(problems({ task: { family: "gp", kernel: "relu", inputs: "cube" } }).map((p) => p.split(":")[0]), ["task.inputs"])
    const [fused] = problems({ task: { family: "gp" }, model: { engine: "fused", layers: 3 } })
    assert.include(fused, "model.engine")
    assert.include(fused, "3 layers")
    assert.deepStrictEqual(problems({ task: { family: "gp" }, model: { layers: 0, attention: "tanh" } }).map((p) => p.split(":")[0]).sort(), [
      "model.attention",
      "model.layers"
    ])
  })

  it("a sweep may vary regression fields but not mix regression with classification", () => {
    const plan = planSweep({ task: { family: "gp" }, sweep: { axes: { "task.kernel": ["exp", "relu"], "model.layers": [1, 2] } } })
    assert.isTrue(Either.isRight(plan))
    assert.strictEqual(Either.isRight(plan) ? plan.right.runs.length : 0, 4)
    const mixed = planSweep({ task: { family: "gp" }, sweep: { axes: { "task.family": ["gp", "cluster"] } } })
    assert.isTrue(Either.isLeft(mixed))
    const unknownAxis = planSweep({ task: { family: "gp" }, sweep: { axes: { "task.C": [2, 3] } } })
    assert.deepStrictEqual(Either.isLeft(unknownAxis) ? unknownAxis.left.map((i) => i.path) : [], ["sweep.axes.task.C"])
  })
})
