/**
 * A finished (or partial) run read back from its folder: its config and its final and initial weights.
 */
import { Effect, Either, Option } from "effect"
import { decodeConfig, type ExperimentConfig } from "../../domain/classification/Config.js"
import { formatIssue } from "../../domain/ConfigSchema.js"
import { StoreError } from "../../domain/Errors.js"
import type { Weights } from "../../domain/classification/Model.js"
import { RunStore } from "../../services/RunStore.js"
import { Schema } from "effect"

const Matrix = Schema.Array(Schema.Array(Schema.Number))
const StoredWeights = Schema.Struct({
  D: Schema.Int,
  final: Schema.Struct({ W_KQ: Matrix, W_PV: Matrix }),
  initial: Schema.Struct({ W_KQ: Matrix, W_PV: Matrix })
})

const toWeights = (D: number, w: { readonly W_KQ: ReadonlyArray<ReadonlyArray<number>>; readonly W_PV: ReadonlyArray<ReadonlyArray<number>> }): Weights => ({
  D,
  kq: Float64Array.from(w.W_KQ.flat()),
  pv: Float64Array.from(w.W_PV.flat())
})

export interface StoredRun {
  readonly dir: string
  readonly config: ExperimentConfig
  readonly weights: Weights
  readonly initial: Weights
}

export const loadRun = (dir: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const read = <A, I>(name: string, schema: Schema.Schema<A, I>) =>
      Effect.gen(function* () {
        const path = store.join(dir, name)
        const value = yield* store.readJson(path)
        if (Option.isNone(value)) {
          return yield* new StoreError({ reason: "ReadFailed", path, detail: "no such file (has the run finished?)" })
        }
        return yield* Schema.decodeUnknown(schema)(value.value).pipe(
          Effect.mapError((error) => new StoreError({ reason: "Corrupt", path, detail: error.message }))
        )
      })
    // Decoded as a config file is: a run stored before an option existed gets the option's default.
    const configPath = store.join(dir, "config.json")
    const config = yield* read("config.json", Schema.Unknown).pipe(
      Effect.flatMap((value) =>
        Either.match(decodeConfig(value), {
          onLeft: (issues) =>
            new StoreError({ reason: "Corrupt", path: configPath, detail: issues.map(formatIssue).join("; ") }),
          onRight: (decoded) => Effect.succeed(decoded)
        })
      )
    )
    const stored = yield* read("weights.json", StoredWeights)
    return {
      dir,
      config,
      weights: toWeights(stored.D, stored.final),
      initial: toWeights(stored.D, stored.initial)
    } satisfies StoredRun
  })
