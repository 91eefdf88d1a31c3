import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { canonicalJson } from "../../src/domain/ConfigSchema.js"
import { reconcileSweep, storedRunsOf, type SweepPlan } from "../../src/domain/Sweep.js"
import { planSweep } from "../../src/programs/Registry.js"

const plan = (value: unknown): SweepPlan => Either.getOrThrow(planSweep(value))
const issues = (value: unknown) => {
  const planned = planSweep(value)
  return Either.isLeft(planned) ? planned.left.map((i) => `${i.path}: ${i.message}`) : []
}
const issuesOf = (value: unknown): Array<string> => {
  const planned = planSweep(value)
  assert.isTrue(Either.isLeft(planned), "refused")
  return Either.isLeft(planned) ? planned.left.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)) : []
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

describe("sweep planning", () => {
  it("validates each planned run, not the base alone: a base field that every axis value overrides may be invalid by itself", () => {
    // The relu kernel needs inputs on the sphere: the base (inputs "cube") is invalid, every planned run is valid.
    const gp = { name: "gp", task: { family: "gp", kernel: "relu", inputs: "cube" } }
    assert.include(issuesOf(gp), 'task.inputs: the "relu" kernel is defined for inputs on the sphere; use "sphere"')
    const swept = plan({ ...gp, sweep: { axes: { "task.inputs": ["sphere"], "task.d": [3, 4] } } })
    assert.strictEqual(swept.runs.length, 2)
    // A problem that only some runs have names them; one that all have is reported once, as the file states it.
    const some = issuesOf({ ...gp, sweep: { axes: { "task.inputs": ["sphere", "cube"] } } })
    assert.deepStrictEqual(some, ['task.inputs: the "relu" kernel is defined for inputs on the sphere; use "sphere" (in the run with task.inputs = "cube")'])
    assert.deepStrictEqual(issuesOf({ training: { steps: -1 }, sweep: { seeds: [0, 1] } }), ["training.steps: expected a non-negative integer, got -1"])
  })

  it("refuses axis values that resolve to the same run (a default spelled two ways, a repeated value), naming both", () => {
    const spelled = issuesOf({ task: { family: "gp", kernel: "relu" }, sweep: { axes: { "task.inputs": ["sphere", "auto"] } } })
    assert.strictEqual(spelled.length, 1)
    assert.match(spelled[0]!, /^sweep\.axes\.task\.inputs: the runs with task\.inputs = "sphere", seed 0 and with task\.inputs = "auto", seed 0 are the same run \([a-z-]+-[0-9a-f]{12}\)/)
    assert.deepStrictEqual(issuesOf({ sweep: { axes: { "task.n": [20, 50, 20] } } }), ["sweep.axes.task.n[2]: 20 is listed twice"])
    assert.deepStrictEqual(issuesOf({ sweep: { seeds: [0, 1, 0] } }), ["sweep.seeds[2]: seed 0 is listed twice"])
  })

  it("names the path and the value of every problem in the sweep section", () => {
    assert.deepStrictEqual(issuesOf({ sweep: { seeds: ["0", "1"] } }), [
      'sweep.seeds[0]: expected a non-negative integer, got "0"',
      'sweep.seeds[1]: expected a non-negative integer, got "1"'
    ])
    assert.deepStrictEqual(issuesOf({ sweep: { axes: { "task.n": [] } } }), ["sweep.axes.task.n: expected a non-empty list of values, got []"])
    assert.deepStrictEqual(issuesOf({ sweep: { axes: { "task.n": 20 } } }), ["sweep.axes.task.n: expected a non-empty list of values, got 20"])
    assert.deepStrictEqual(issuesOf({ sweep: { seeds: [] } }), ["sweep.seeds: expected a non-empty list of non-negative integers, got []"])
    assert.deepStrictEqual(issuesOf({ sweep: { seeds: [-1, 1.5] } }), [
      "sweep.seeds[0]: expected a non-negative integer, got -1",
      "sweep.seeds[1]: expected a non-negative integer, got 1.5"
    ])
    assert.deepStrictEqual(issuesOf({ sweep: [1] }), ['sweep: expected an object { axes?: { "<field path>": [values…] }, cases?: [{ "<field path>": value, … }, …], seeds?: [integers…] }, got [1]'])
    assert.deepStrictEqual(issuesOf({ sweep: { axes: ["task.n"] } }), ['sweep.axes: expected an object { "<field path>": [values…] }, got ["task.n"]'])
    assert.deepStrictEqual(issuesOf({ sweep: { axis: {} } }), ["sweep.axis: is unexpected (a sweep has axes, cases and seeds)"])
    assert.deepStrictEqual(issuesOf({ sweep: { axes: { "task.n": [10, -5] } } }), ["task.n: expected a positive integer, got -5 (in the run with task.n = -5)"])
  })
})

describe("a plan against the runs stored in its folder", () => {
  const base = { name: "s", task: { n: 20 }, sweep: { axes: { "task.n": [20, 50] }, seeds: [0, 1] } }
  const storedOf = (value: unknown) => plan(value).definition.runs

  it("accepts a rerun that changes no planned run: axis values reordered, a base field an axis overrides, the top-level seed", () => {
    const stored = storedOf(base)
    for (const rerun of [
      { ...base, sweep: { axes: { "task.n": [50, 20] }, seeds: [1, 0] } },
      { ...base, task: { n: 999 } },
      { ...base, seed: 7 }
    ]) {
      const result = reconcileSweep(stored, plan(rerun))
      assert.strictEqual(result._tag, "Compatible", JSON.stringify(rerun))
      if (result._tag === "Compatible") assert.strictEqual(result.added, 0)
    }
  })

  it("extends the sweep with a superset (more seeds, more axis values): sweep.json then holds what a sweep planned whole holds", () => {
    const whole = plan({ ...base, sweep: { axes: { "task.n": [20, 50, 100] }, seeds: [0, 1, 2] } })
    const result = reconcileSweep(storedOf(base), whole)
    assert.strictEqual(result._tag, "Compatible")
    if (result._tag === "Compatible") {
      assert.strictEqual(result.added, 5)
      assert.strictEqual(canonicalJson(result.definition), canonicalJson(whole.definition))
    }
    // A new axis whose values include the base's value keeps the stored runs.
    const attention = reconcileSweep(storedOf(base), plan({ ...base, sweep: { ...base.sweep, axes: { ...base.sweep.axes, "model.attention": ["softmax", "linear"] } } }))
    assert.strictEqual(attention._tag, "Compatible")
  })

  it("refuses a rerun that changes a stored run, with the fields that changed", () => {
    const result = reconcileSweep(storedOf(base), plan({ ...base, training: { steps: 30 } }))
    assert.deepStrictEqual(result, { _tag: "Drift", changes: ["training.steps: 12000 → 30"] })
  })

  it("reads a sweep.json of an earlier version (base, axes, seeds) by planning its runs again", () => {
    const current = plan(base)
    const legacy = { base: { ...current.runs[0]!.config, output: undefined, runtime: undefined }, axes: base.sweep.axes, seeds: base.sweep.seeds }
    const stored = storedRunsOf(JSON.parse(JSON.stringify(legacy)), planSweep)
    assert.isTrue(Either.isRight(stored))
    assert.deepStrictEqual(Either.getOrThrow(stored).map((r) => r.id), current.runs.map((r) => r.id))
    assert.strictEqual(reconcileSweep(Either.getOrThrow(stored), current)._tag, "Compatible")
  })
})
