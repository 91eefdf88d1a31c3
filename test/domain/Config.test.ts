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

  it("evaluation.seeds: extra evaluation sets that repeat no set are accepted, and [] is the run id of a config without them", () => {
    assert.deepStrictEqual(decodeOk({ evaluation: { seeds: [5, 6] } }).evaluation.seeds, [5, 6])
    assert.strictEqual(configHash(decodeOk({ name: "x", evaluation: { seeds: [] } })), configHash(decodeOk({ name: "x" })))
    assert.notStrictEqual(configHash(decodeOk({ name: "x", evaluation: { seeds: [5] } })), configHash(decodeOk({ name: "x" })))
    const repeated = decodeConfig({ evaluation: { seed: 3, seeds: [4, 3, 4] } })
    assert.isTrue(Either.isLeft(repeated))
    const [issue] = Either.isLeft(repeated) ? repeated.left : []
    assert.strictEqual(issue!.path, "evaluation.seeds")
    assert.include(issue!.message, "evaluation.seed (3)")
    assert.include(issue!.message, "[4,3,4]")
    const sameAsMain = decodeConfig({ evaluation: { seed: 3, seeds: [3] } })
    assert.deepStrictEqual(Either.isLeft(sameAsMain) ? sameAsMain.left.map((i) => i.path) : [], ["evaluation.seeds"], "the main set again")
    const wrongType = decodeConfig({ evaluation: { seeds: [1.5] } })
    assert.deepStrictEqual(Either.isLeft(wrongType) ? wrongType.left.map((i) => i.path) : [], ["evaluation.seeds"])
  })

  it("evaluation.shift: a partial shift fills in the rest, the neutral one keeps the run id, impossible ones name their field", () => {
    const shifted = decodeOk({ evaluation: { shift: { inputScale: 2 } } })
    assert.deepStrictEqual(shifted.evaluation.shift, { inputScale: 2, noise: null, imbalance: 1, queryClass: "any", contextClasses: null })
    assert.strictEqual(configHash(decodeOk({ name: "x", evaluation: { shift: { inputScale: 1, queryClass: "any" } } })), configHash(decodeOk({ name: "x" })))
    assert.notStrictEqual(configHash(decodeOk({ name: "x", evaluation: { shift: { imbalance: 3 } } })), configHash(decodeOk({ name: "x" })))
    const problems = (value: unknown) => {
      const result = decodeConfig(value)
      return Either.isLeft(result) ? result.left.map((i) => `${i.path}: ${i.message}`) : []
    }
    assert.deepStrictEqual(
      problems({ evaluation: { shift: { inputScale: 0, imbalance: 0.5, queryClass: "gone", contextClasses: 0, noise: -1 } } }).map((p) => p.split(":")[0]).sort(),
      ["evaluation.shift.contextClasses", "evaluation.shift.imbalance", "evaluation.shift.inputScale", "evaluation.shift.noise", "evaluation.shift.queryClass"]
    )
    const [tooMany] = problems({ task: { C: 5 }, evaluation: { shift: { contextClasses: 5, queryClass: "absent" } } })
    assert.include(tooMany, "evaluation.shift.contextClasses: expected at most 4 classes")
    const voronoi = problems({ task: { family: "voronoi" }, evaluation: { shift: { noise: 0.1, inputScale: 2 } } })
    assert.deepStrictEqual(voronoi.map((p) => p.split(":")[0]), ["evaluation.shift.noise"], "input scaling applies to voronoi tasks too")
    const plan = planSweep({ sweep: { axes: { "evaluation.shift.inputScale": [0.5, 1, 2] } } })
    assert.strictEqual(Either.isRight(plan) ? plan.right.runs.length : 0, 3)
  })

  it("a config.json stored before a field existed reads with the field at its neutral value", () => {
    const { seeds: _seeds, ...evaluation } = defaults.evaluation
    const stored = JSON.parse(JSON.stringify({ ...defaults, evaluation }))
    assert.deepStrictEqual(decodeOk(stored).evaluation.seeds, [])
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
    // The fused engine trains any depth, but not an embedding.
    assert.deepStrictEqual(problems({ task: { family: "gp" }, model: { engine: "fused", layers: 3 } }), [])
    assert.deepStrictEqual(problems({ task: { family: "gp" }, model: { engine: "fused", embedding: { features: 4 } } }), [
      'model.engine: the fused engine has no embedding; use "auto" or "tfjs" with model.embedding'
    ])
    assert.deepStrictEqual(problems({ task: { family: "random-features", kernel: "relu" } }).map((p) => p.split(":")[0]), ["task.kernel"])
    assert.deepStrictEqual(problems({ task: { family: "gp" }, model: { layers: 0, attention: "tanh" } }).map((p) => p.split(":")[0]).sort(), [
      "model.attention",
      "model.layers"
    ])
  })

  it("an embedding is null or an object whose every problem is reported with its path; omitted fields take defaults", () => {
    assert.deepStrictEqual(problems({ task: { family: "random-features" }, model: { embedding: { hidden: [0, 8], features: -1, activation: "gelu", depth: 2 } } }).sort(), [
      "model.embedding.activation: expected one of \"tanh\" | \"relu\", got \"gelu\"",
      "model.embedding.depth: is unexpected, expected: \"hidden\" | \"features\" | \"activation\"",
      "model.embedding.features: expected a positive integer, got -1",
      "model.embedding.hidden: expected a list of positive integers (hidden widths), got [0,8]"
    ])
    assert.deepStrictEqual(problems({ task: { family: "gp" }, model: { embedding: 3 } }), ["model.embedding: expected null or an object { hidden, features, activation }, got 3"])
    const resolved = decodeRunConfig({ task: { family: "random-features" }, model: { embedding: { features: 8 } } })
    assert.deepStrictEqual(Either.isRight(resolved) ? (resolved.right as unknown as { model: { embedding: unknown } }).model.embedding : null, {
      hidden: [64],
      features: 8,
      activation: "tanh"
    })
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

describe("training options (shared by every kind)", () => {
  const problems = (value: unknown) => {
    const result = decodeRunConfig(value)
    return Either.isLeft(result) ? result.left.map((i) => `${i.path}: ${i.message}`) : []
  }

  it("each option is validated with its path and the value at fault, in classification and regression configs alike", () => {
    const bad = {
      optimizer: "rmsprop",
      momentum: 1,
      schedule: "linear",
      warmupSteps: -1,
      minLearningRateFactor: 1.5,
      decayEvery: 0,
      decayFactor: 0,
      clipGradientNorm: -2
    }
    for (const family of ["cluster", "gp"]) {
      const found = problems({ task: { family }, training: bad, model: { initDistribution: "laplace" } })
      assert.deepStrictEqual(found.sort(), [
        // Regression models have von Oswald et al.'s initialisation besides the shared distributions.
        `model.initDistribution: expected one of "normal" | "uniform" | "truncated-normal"${family === "gp" ? ' | "von-oswald"' : ""}, got "laplace"`,
        "training.clipGradientNorm: expected a positive number, or null for no clipping, got -2",
        "training.decayEvery: expected a positive integer, got 0",
        "training.decayFactor: expected a number in (0, 1], got 0",
        "training.minLearningRateFactor: expected a number in [0, 1], got 1.5",
        "training.momentum: expected a number in [0, 1), got 1",
        `training.optimizer: expected one of "adam" | "sgd", got "rmsprop"`,
        `training.schedule: expected one of "constant" | "cosine" | "step", got "linear"`,
        "training.warmupSteps: expected a non-negative integer, got -1"
      ], family)
    }
  })

  it("a warm-up longer than training is refused, in a sweep too, naming the run", () => {
    assert.deepStrictEqual(problems({ training: { steps: 100, warmupSteps: 101 } }), [
      "training.warmupSteps: the warm-up (101 steps) is longer than training (training.steps = 100)"
    ])
    assert.deepStrictEqual(problems({ task: { family: "linear-regression" }, training: { steps: 100, warmupSteps: 100 } }), [])
    const sweep = planSweep({ training: { warmupSteps: 500 }, sweep: { axes: { "training.steps": [1000, 200] } } })
    const messages = Either.isLeft(sweep) ? sweep.left.map((i) => `${i.path}: ${i.message}`) : []
    assert.deepStrictEqual(messages, [
      "training.warmupSteps: the warm-up (500 steps) is longer than training (training.steps = 200) (in the run with training.steps = 200)"
    ])
  })

  it("valid options resolve and change the run id; their defaults do not (no id of an existing run changes)", () => {
    const base = decodeOk({ name: "x" })
    assert.deepStrictEqual(
      [base.training.optimizer, base.training.schedule, base.training.warmupSteps, base.training.clipGradientNorm, base.model.initDistribution],
      ["adam", "constant", 0, null, "normal"]
    )
    const spelled = decodeOk({
      name: "x",
      training: { momentum: 0.9, schedule: "constant", warmupSteps: 0, minLearningRateFactor: 0, decayEvery: 1000, decayFactor: 0.1, clipGradientNorm: null },
      model: { initDistribution: "normal" }
    })
    assert.strictEqual(configHash(spelled), configHash(base))
    for (const changed of [
      { training: { optimizer: "sgd" } },
      { training: { schedule: "cosine" } },
      { training: { warmupSteps: 10 } },
      { training: { clipGradientNorm: 1 } },
      { model: { initDistribution: "uniform" } }
    ]) {
      assert.notStrictEqual(configHash(decodeOk({ name: "x", ...changed })), configHash(base), JSON.stringify(changed))
    }
  })

  it("a sweep's definition leaves the new options out at their defaults: a sweep folder from before them is resumed", () => {
    const plan = Either.getOrThrow(planSweep({ name: "s", sweep: { seeds: [0, 1] } }))
    const base = plan.definition.runs[0]!.config as { training: Record<string, unknown>; model: Record<string, unknown> }
    assert.deepStrictEqual(Object.keys(base.training).sort(), ["batchSize", "beta1", "beta2", "epsilon", "learningRate", "optimizer", "steps"])
    assert.notProperty(base.model, "initDistribution")
    const cosine = Either.getOrThrow(planSweep({ name: "s", training: { schedule: "cosine" }, sweep: { seeds: [0, 1] } }))
    assert.propertyVal((cosine.definition.runs[0]!.config as { training: Record<string, unknown> }).training, "schedule", "cosine")
  })
})

describe("early stopping (classification)", () => {
  const problems = (value: unknown) => {
    const result = decodeRunConfig(value)
    return Either.isLeft(result) ? result.left.map((i) => `${i.path}: ${i.message}`) : []
  }

  it("is validated, refused for linear attention (no basin), and off by default without changing run ids", () => {
    assert.deepStrictEqual(problems({ earlyStop: { basinDecided: "yes", patience: 0, minCSigma: -1 } }).sort(), [
      "earlyStop.basinDecided: expected true or false, got \"yes\"",
      "earlyStop.minCSigma: expected a non-negative number, got -1",
      "earlyStop.patience: expected a positive integer, got 0"
    ])
    assert.deepStrictEqual(problems({ model: { attention: "linear" }, earlyStop: { basinDecided: true } }), [
      "earlyStop.basinDecided: linear attention learns no basin (no c_σ); use softmax or exp attention, or false"
    ])
    assert.deepStrictEqual(problems({ task: { family: "gp" }, earlyStop: { basinDecided: true } }).map((p) => p.split(":")[0]), ["earlyStop"])
    const base = decodeOk({ name: "x" })
    assert.isFalse(base.earlyStop.basinDecided)
    assert.strictEqual(configHash(decodeOk({ name: "x", earlyStop: { basinDecided: false } })), configHash(base))
    assert.notStrictEqual(configHash(decodeOk({ name: "x", earlyStop: { basinDecided: true } })), configHash(base))
  })
})
