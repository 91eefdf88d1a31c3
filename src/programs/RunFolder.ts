/**
 * What every kind of run does with its folder: return a finished run's stored summary without recomputing it, start
 * a new or partial run with its config and log file, and keep the last two checksummed checkpoints.
 */
import { Effect, Option } from "effect"
import { decodeChecked, ownerOf, withOwner } from "../domain/Checkpoint.js"
import { runIdOf } from "../domain/RunId.js"
import type { BaseConfig } from "../domain/ConfigSchema.js"
import { CheckpointSink } from "../services/CheckpointSink.js"
import { withRunLogFile } from "../services/Logging.js"
import { describeDamage, SUMMARY, unfinishRun, verifyRun } from "./RunIntegrity.js"
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

/**
 * Runs `execute` in the run's folder unless it finished before (summary.json, written last) and every file it recorded
 * is intact (RunIntegrity). A damaged finished run is trained again from its newest checkpoint, which rewrites every
 * result file.
 */
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
    const integrity = yield* verifyRun(dir)
    if (integrity._tag === "Intact") {
      const stored = yield* store.readJson(file(SUMMARY))
      if (Option.isSome(stored)) {
        yield* Effect.logDebug(`run ${runId} finished before; reusing its results`)
        return { runId, dir, summary: stored.value as S, reused: true } satisfies RunOutcome<S>
      }
    }
    if (integrity._tag === "Damaged") yield* unfinishRun(dir)
    yield* store.ensureDir(dir)
    yield* store.removeTemporaries(dir)
    yield* store.writeJson(file("config.json"), options.recordedConfig ?? config)
    const repair =
      integrity._tag === "Damaged"
        ? Effect.logWarning(`run ${runId} had finished but is damaged (${describeDamage(integrity)}): repairing it from its newest checkpoint`)
        : Effect.void
    const summary = yield* Effect.zipRight(repair, execute(runId, file)).pipe(withRunLogFile(file("run.log")), Effect.annotateLogs({ run: runId }))
    return { runId, dir, summary, reused: false } satisfies RunOutcome<S>
  })

const CHECKPOINT = "checkpoint.json"
const PREVIOUS_CHECKPOINT = "checkpoint.prev.json"

/**
 * The newest checkpoint of run `runId` that decodes, trying the previous one when the newest is damaged. A checkpoint
 * that names another run (copied in from another folder) is refused with a warning, never resumed.
 */
export const readCheckpoint = <A>(
  file: (name: string) => string,
  decode: (text: string) => { readonly state: A } | { readonly problem: string },
  runId: string
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    for (const name of [CHECKPOINT, PREVIOUS_CHECKPOINT]) {
      const text = yield* store.readText(file(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      if (Option.isNone(text)) continue
      const owner = ownerOf(text.value)
      if (owner !== undefined && owner !== runId) {
        yield* Effect.logWarning(`refusing checkpoint ${file(name)}: it belongs to run ${owner}, not to this run (${runId}); this run starts without it`)
        continue
      }
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
 * Keeps the last two checkpoints: the current one becomes the previous, then the new one, stamped with its run's id, is
 * written atomically; then the CheckpointSink gets it (nothing by default; a cluster runner stores it in PostgreSQL).
 */
export const writeCheckpoint = (file: (name: string) => string, text: string, runId: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const owned = withOwner(text, runId)
    yield* store.renameIfExists(file(CHECKPOINT), file(PREVIOUS_CHECKPOINT))
    yield* store.writeText(file(CHECKPOINT), owned)
    const sink = yield* CheckpointSink
    yield* sink.saved(file(CHECKPOINT), owned)
  })
