import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { canonicalJson } from "../../src/domain/ConfigSchema.js"
import { withoutNeutralFields } from "../../src/domain/RunId.js"
import { planSweep } from "../../src/programs/Registry.js"

const root = join(import.meta.dirname, "..", "..")
const idsOf = (file: string) => Either.getOrThrow(planSweep(JSON.parse(readFileSync(join(root, file), "utf8")))).runs.map((r) => r.id)
const digest = (ids: ReadonlyArray<string>) => createHash("sha256").update([...ids].sort().join("\n")).digest("hex").slice(0, 16)

describe("run ids", () => {
  it("the examples keep the run ids of their stored results (a new option at its neutral value changes no id)", () => {
    // Computed at commit eb9796d, before any option was added: a sweep rerun after an upgrade finds its runs.
    assert.deepStrictEqual(idsOf("examples/softmax-main.json"), ["softmax-main-3ddcfeb03be3"])
    assert.deepStrictEqual(idsOf("examples/linear-main.json"), ["linear-main-a0ea53bdebaf"])
    assert.deepStrictEqual(idsOf("examples/regression-main.json"), ["regression-main-9c2a57bd886d"])
    const pinned: Record<string, string> = {
      "examples/figures.json": "6ec21efbcf9801da",
      "examples/functions-kernels.json": "02c6c4ca89309698",
      "examples/functions-layers.json": "32b30d6447d8d46d",
      "examples/linear-seeds.json": "3c513bbd4d3f4c99",
      "examples/softmax-seeds.json": "1d488c5d49bf961f",
      "examples/regression-layers.json": "349f453a4b69cdd0",
      "examples/quick/figures.json": "071d1bd2d3c8dc8e",
      "examples/quick/functions-kernels.json": "307af3c9a09940c4",
      "examples/quick/linear-seeds.json": "d466c5c5e13149e6",
      "examples/quick/regression-layers.json": "ed2fc5d79d09c68e",
      "examples/quick/softmax-seeds.json": "160564fcc56adc3a",
      // The README's measured sweeps, pinned when d = 20 and C = 20 were added (the 36 earlier runs of settings-d and
      // settings-C kept their ids, and their stored results were reused): each digest is of the ids of its stored folder.
      "examples/main-setting.json": "c32d0238447950b4",
      "examples/settings-noise.json": "a7186dde2d94af97",
      "examples/settings-d.json": "bacd36833a315104",
      "examples/settings-C.json": "be5db6be7c3263f9"
    }
    for (const [file, expected] of Object.entries(pinned)) assert.strictEqual(digest(idsOf(file)), expected, file)
  })

  it("a field at its neutral value is left out of the identity; at any other value it stays", () => {
    const neutral = [["training.schedule", { kind: "constant" }]] as const
    const config = { name: "x", training: { steps: 10, schedule: { kind: "constant" } } }
    assert.strictEqual(canonicalJson(withoutNeutralFields(config, neutral)), canonicalJson({ name: "x", training: { steps: 10 } }))
    const changed = { name: "x", training: { steps: 10, schedule: { kind: "cosine" } } }
    assert.strictEqual(canonicalJson(withoutNeutralFields(changed, neutral)), canonicalJson(changed))
  })
})
