import { assert, describe, it } from "@effect/vitest"
import { defaults } from "../../../src/domain/classification/Config.js"
import type { Group } from "../../../src/programs/classification/Report.js"
import { representativeGroups } from "../../../src/programs/classification/ReportOod.js"

/** A configuration group of one run with the given task fields; only its config is read. */
const group = (attention: "linear" | "softmax", task: Partial<typeof defaults.task>): Group => {
  const config = { ...defaults, task: { ...defaults.task, ...task }, model: { ...defaults.model, attention } }
  return { label: `${attention} ${JSON.stringify(task)}`, axes: task, runs: [{ config } as never] }
}

describe("representative configurations", () => {
  it("per attention kind, the one nearest the main setting: n = 100 first, then d = 5, C = 5 and ε = 0.5", () => {
    // A sweep over C at n = 100 lists C = 2 first: the figures must still show the main setting's C = 5.
    const overC = [2, 3, 5, 10, 20].flatMap((C) => [group("linear", { C }), group("softmax", { C })])
    assert.deepStrictEqual(representativeGroups(overC).map((g) => g.label), ['linear {"C":5}', 'softmax {"C":5}'])
    const overNoise = [0, 0.25, 0.5, 1].map((noise) => group("softmax", { noise }))
    assert.deepStrictEqual(representativeGroups(overNoise).map((g) => g.label), ['softmax {"noise":0.5}'])
    // n decides before d: n = 100 at d = 20 beats n = 50 at d = 5.
    const mixed = [group("linear", { n: 50, d: 5 }), group("linear", { n: 100, d: 20 }), group("linear", { n: 100, d: 3 })]
    assert.deepStrictEqual(representativeGroups(mixed).map((g) => g.label), ['linear {"n":100,"d":3}'])
  })
})
