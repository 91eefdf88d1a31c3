/**
 * What every kind of run does with its folder: return a finished run's stored summary without recomputing it, start
 * a new or partial run with its config and log file, and keep the last two checksummed checkpoints.
 */
import { Effect, Option } from "effect"
import { decodeChecked } from "../domain/Checkpoint.js"
import { runIdOf } from "../domain/RunId.js"
import type { BaseConfig } from "../domain/ConfigSchema.js"
import { CheckpointSink } from "../services/CheckpointSink.js"
import { withRunLogFile } from "../services/Logging.js"
import { RunStore } from "../services/RunStore.js"

export interface RunFolderOptions {
  /** The run's folder; by default <output.dir>/<run id>. */
  readonly dir?: string
  /**
   * The config config.json records, when the run executes with other output or runtime settings than the user's
   * (a sweep turns progress off and runs parallel runs without sampler threads): the same run, the same file.
   */
  readonly recordedConfig?: BaseConfig
}

export interface RunOutcome<S> {
  readonly runId: string
  readonly dir: string
  readonly summary: S
  /** The run had finished before: its stored summary was returned and nothing was recomputed. */
  readonly reused: boolean
}

/** Runs `execute` in the run's folder unless summary.json (written last by every run) says it finished before. */
export const inRunFolder = <S, E, R>(
  config: BaseConfig,
  options: RunFolderOptions,
  execute: (runId: string, file: (name: string) => string) => Effect.Effect<S, E, R>
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const runId = runIdOf(config)
    const dir = options.dir ?? store.resolve(config.output.dir, runId)
    const file = (name: string) => store.join(dir, name)
    const stored = yield* store.readJson(file("summary.json"))
    if (Option.isSome(stored)) {
      yield* Effect.logDebug(`run ${runId} finished before; reusing its results`)
      return { runId, dir, summary: stored.value as S, reused: true } satisfies RunOutcome<S>
    }
    yield* store.ensureDir(dir)
    yield* store.removeTemporaries(dir)
    yield* store.writeJson(file("config.json"), options.recordedConfig ?? config)
    const summary = yield* execute(runId, file).pipe(withRunLogFile(file("run.log")), Effect.annotateLogs({ run: runId }))
    return { runId, dir, summary, reused: false } satisfies RunOutcome<S>
  })

const CHECKPOINT = "checkpoint.json"
const PREVIOUS_CHECKPOINT = "checkpoint.prev.json"

/** The newest checkpoint that decodes, trying the previous one when the newest is damaged. */
export const readCheckpoint = <A>(
  file: (name: string) => string,
  decode: (text: string) => { readonly state: A } | { readonly problem: string }
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    for (const name of [CHECKPOINT, PREVIOUS_CHECKPOINT]) {
      const text = yield* store.readText(file(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      if (Option.isNone(text)) continue
      const decoded = decode(text.value)
      if ("state" in decoded) return Option.some(decoded.state)
      yield* Effect.logWarning(`ignoring checkpoint ${name}: ${decoded.problem}`)
    }
    return Option.none<A>()
  })

/** The step of the newest checkpoint in a run folder that decodes, if any. */
export const checkpointStep = (dir: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    for (const name of [CHECKPOINT, PREVIOUS_CHECKPOINT]) {
      const text = yield* store.readText(store.join(dir, name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      if (Option.isNone(text)) continue
      const decoded = decodeChecked(text.value)
      if ("payload" in decoded && typeof (decoded.payload as { step?: unknown }).step === "number") {
        return Option.some((decoded.payload as { step: number }).step)
      }
    }
    return Option.none<number>()
  })

/**
 * Keeps the last two checkpoints: the current one becomes the previous, then the new one is written atomically; then
 * the CheckpointSink gets it (nothing by default; a cluster runner stores it in PostgreSQL).
 */
export const writeCheckpoint = (file: (name: string) => string, text: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    yield* store.renameIfExists(file(CHECKPOINT), file(PREVIOUS_CHECKPOINT))
    yield* store.writeText(file(CHECKPOINT), text)
    const sink = yield* CheckpointSink
    yield* sink.saved(file(CHECKPOINT), text)
  })
