/**
 * What a path given to `status` or `report` holds: a sweep folder (manifest.json), a run folder (config.json with the
 * files a run writes as it starts), or nothing either can read, said exactly (missing, a file, an empty folder, some
 * other folder) as a NotAFolder error.
 */
import { Effect, Option } from "effect"
import { NotAFolder } from "../domain/Errors.js"
import { RunStore } from "../services/RunStore.js"

export type FolderKind = "sweep" | "run"

const EXPECTED = "give a sweep folder (<output.dir>/<name>, holding manifest.json) or one of its run folders"

/** Files a run writes as it starts or goes on, beside its config.json. */
const RUN_FILES = ["run.log", "metrics.jsonl", "checkpoint.json", "summary.json"]

export const folderKind = (path: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const kind = yield* store.kindOf(path).pipe(Effect.mapError((error) => new NotAFolder({ path, reason: `cannot be read (${error.detail})` })))
    if (Option.isNone(kind)) return yield* new NotAFolder({ path, reason: `no such file or folder; ${EXPECTED}` })
    if (kind.value === "file") return yield* new NotAFolder({ path, reason: `is a file, not a folder; ${EXPECTED}` })
    const names = yield* store.list(path).pipe(Effect.mapError((error) => new NotAFolder({ path, reason: `cannot be read (${error.detail})` })))
    if (names.includes("manifest.json")) return "sweep" as FolderKind
    if (names.includes("config.json") && RUN_FILES.some((name) => names.includes(name))) return "run" as FolderKind
    if (names.length === 0) return yield* new NotAFolder({ path, reason: `is an empty folder: no sweep or run has written here; ${EXPECTED}` })
    return yield* new NotAFolder({ path, reason: `holds no sweep (manifest.json) and no run (config.json); ${EXPECTED}` })
  })
