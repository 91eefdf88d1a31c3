import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { planSweep } from "../../src/programs/Registry.js"

const issues = (value: unknown) => {
  const plan = planSweep(value)
  return Either.isLeft(plan) ? plan.left.map((i) => `${i.path}: ${i.message}`) : []
}

describe("sweep cases", () => {
  it("each case sets a few fields on the base; runs are axes × cases × seeds, every case field a column", () => {
    const plan = Either.getOrThrow(
      planSweep({
        name: "study",
        sweep: {
          axes: { "task.d": [2, 5] },
          cases: [{}, { "training.learningRate": 0.003 }, { "model.initScale": 0.2, "training.batchSize": 128 }],
          seeds: [0, 1]
        }
      })
    )
    assert.strictEqual(plan.runs.length, 2 * 3 * 2)
    const first = plan.runs.find((r) => r.seed === 0 && r.axes["task.d"] === 2 && r.axes["model.initScale"] === 0.2)!
    assert.strictEqual(first.config.training.batchSize, 128)
    assert.strictEqual(first.config.training.learningRate, 0.01, "a field the case does not set keeps the base's value")
    // The base case shows the resolved values of every field some case sets.
    const base = plan.runs.find((r) => r.seed === 1 && r.axes["task.d"] === 5 && r.axes["training.learningRate"] === 0.01 && r.axes["model.initScale"] === 0.02)!
    assert.deepStrictEqual(base.axes, { "task.d": 5, "training.learningRate": 0.01, "model.initScale": 0.02, "training.batchSize": 512 })
    assert.deepStrictEqual(plan.axes, {
      "task.d": [2, 5],
      "training.learningRate": [0.01, 0.003],
      "model.initScale": [0.02, 0.2],
      "training.batchSize": [512, 128]
    })
    assert.deepStrictEqual((plan.definition as { cases: unknown }).cases, [
      {},
      { "training.learningRate": 0.003 },
      { "model.initScale": 0.2, "training.batchSize": 128 }
    ])
    // Without cases, the definition is what it was before cases existed.
    assert.notProperty(Either.getOrThrow(planSweep({ name: "s", sweep: { seeds: [0] } })).definition as object, "cases")
  })

  it("a case's fields are checked like axes, and a bad value names the case's run", () => {
    assert.deepStrictEqual(
      issues({ sweep: { axes: { "training.steps": [10] }, cases: [{ "training.stepz": 1 }, { seed: 3 }, { "runtime.checkpointEvery": 5 }, { "training.steps": 20 }] } }),
      [
        "sweep.cases[0].training.stepz: no such config field",
        "sweep.cases[1].seed: use sweep.seeds for seeds",
        "sweep.cases[2].runtime.checkpointEvery: this field does not change results and cannot be an axis",
        "sweep.cases[3].training.steps: this field is an axis too; set it in one place"
      ]
    )
    assert.deepStrictEqual(issues({ sweep: { cases: [{}, { "training.batchSize": -1 }] } }), [
      "training.batchSize: expected a positive integer, got -1 (in the run with training.batchSize = -1)"
    ])
    assert.strictEqual(issues({ sweep: { cases: [] } }).length, 1)
  })
})
