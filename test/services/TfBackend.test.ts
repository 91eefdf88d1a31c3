import { assert, describe, it } from "@effect/vitest"
import { Effect, HashMap, Logger, Option } from "effect"
import { vi } from "vitest"
import { TfBackend } from "../../src/services/TfBackend.js"

// In this file's module graph the native addon cannot be activated and the wasm backend registers nothing, as on a
// machine without them.
vi.mock("@tensorflow/tfjs-node", () => ({ setBackend: async () => false }))
vi.mock("@tensorflow/tfjs-backend-wasm", () => ({}))

describe("TensorFlow.js backend choice", () => {
  it.effect("auto walks tfjs-node → wasm → cpu, logging each fallback with its reason, and remembers the choice", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const collect = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message, annotations }) => {
          const reason = Option.getOrUndefined(HashMap.get(annotations, "reason"))
          lines.push(`${String(message)}${reason === undefined ? "" : ` (${String(reason)})`}`)
        })
      )
      const backend = yield* Effect.flatMap(TfBackend, (b) => Effect.zip(b.acquire("auto"), b.acquire("auto"))).pipe(
        Effect.provide(TfBackend.Default),
        Effect.provide(collect)
      )
      assert.strictEqual(backend[0].name, "cpu")
      assert.strictEqual(backend[0].tf.getBackend(), "cpu")
      assert.strictEqual(backend[1], backend[0], "the second acquire reuses the first")
      assert.deepStrictEqual(lines, [
        "TensorFlow.js backend tfjs-node unavailable, trying the next (setBackend('tensorflow') returned false)",
        "TensorFlow.js backend wasm unavailable, trying the next (Backend name 'wasm' not found in registry)",
        "TensorFlow.js backend: cpu"
      ])
    })
  )

  it.effect("an explicitly chosen backend that cannot load fails with its name and reason, without falling back", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.flatMap(TfBackend, (b) => b.acquire("wasm")).pipe(Effect.provide(TfBackend.Default)))
      assert.strictEqual(error._tag, "BackendUnavailable")
      assert.strictEqual(error.backend, "wasm")
      assert.include(error.reason, "'wasm' not found in registry")
    })
  )
})
