/**
 * Finished means verified. When a run finishes it records what it wrote: `digests.json` holds the SHA-256 and the
 * size of each result file, written just before summary.json (whose presence marks the run as finished, and whose
 * digest it holds too). A finished run is checked against it wherever it is trusted: a rerun, `status` and `report`.
 * A damaged run (a file cut, altered, emptied or deleted) is named with the file at fault; `run` repairs it by
 * training it again from its newest checkpoint (the final one, normally: nothing is retrained), which rewrites every
 * result file byte for byte.
 *
 * Runs finished by versions before digests existed are checked by their structure instead: summary.json a non-empty
 * JSON object, every line of metrics.jsonl JSON, weights.json and references.json JSON, per-context.csv present when
 * the config asks for it.
 */
import { createHash } from "node:crypto"
import { Effect, Option } from "effect"
import { RunStore } from "../services/RunStore.js"

export const DIGESTS = "digests.json"
export const SUMMARY = "summary.json"

/**
 * The result files whose digests a finished run records (each when it exists), summary.json last. run.json (how the
 * run ran: engine, wall times) is not among them: it describes the processes, not the results.
 */
const SEALED = ["config.json", "references.json", "metrics.jsonl", "per-context.csv", "weights.json"] as const

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

export interface FileDigest {
  readonly sha256: string
  readonly bytes: number
}

/** A run folder as verified: not finished, finished and intact, or finished and damaged (the first file at fault). */
export type RunIntegrity =
  | { readonly _tag: "Unfinished" }
  | { readonly _tag: "Intact" }
  | { readonly _tag: "Damaged"; readonly file: string; readonly problem: string }

const damaged = (file: string, problem: string): RunIntegrity => ({ _tag: "Damaged", file, problem })
const INTACT: RunIntegrity = { _tag: "Intact" }

const digestOf = (text: string): FileDigest => ({ sha256: sha256(text), bytes: Buffer.byteLength(text, "utf8") })

/**
 * Writes digests.json (every result file that exists, and the summary's text about to be written), then summary.json.
 * A crash between the two leaves the run unfinished (no summary.json): it resumes from its final checkpoint.
 */
export const sealRun = (file: (name: string) => string, runId: string, summary: unknown) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const summaryText = `${JSON.stringify(summary, null, 2)}\n`
    const files: Record<string, FileDigest> = {}
    for (const name of SEALED) {
      const text = yield* store.readText(file(name))
      if (Option.isSome(text)) files[name] = digestOf(text.value)
    }
    files[SUMMARY] = digestOf(summaryText)
    yield* store.writeJson(file(DIGESTS), { runId, algorithm: "sha256", files })
    yield* store.writeText(file(SUMMARY), summaryText)
  })

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

const parses = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

const readOrNone = (file: string) => Effect.flatMap(RunStore, (store) => store.readText(file).pipe(Effect.orElseSucceed(() => Option.none<string>())))

/** Runs finished before digests existed: the structure of each file. */
const verifyStructure = (dir: string, summaryText: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    let summary: unknown
    try {
      summary = JSON.parse(summaryText)
    } catch (error) {
      return damaged(SUMMARY, `not valid JSON (${error instanceof Error ? error.message : String(error)})`)
    }
    if (!isObject(summary) || Object.keys(summary).length === 0) return damaged(SUMMARY, "holds no results (an empty or non-object value)")
    const metrics = yield* readOrNone(store.join(dir, "metrics.jsonl"))
    if (Option.isNone(metrics)) return damaged("metrics.jsonl", "missing")
    const lines = metrics.value.split("\n").filter((line) => line !== "")
    if (lines.length === 0) return damaged("metrics.jsonl", "empty")
    const bad = lines.findIndex((line) => !parses(line))
    if (bad >= 0) return damaged("metrics.jsonl", `line ${bad + 1} is not valid JSON (cut?)`)
    if (!metrics.value.endsWith("\n")) return damaged("metrics.jsonl", "its last line is cut")
    for (const name of ["weights.json", "references.json"]) {
      const text = yield* readOrNone(store.join(dir, name))
      if (Option.isNone(text)) return damaged(name, "missing")
      if (!parses(text.value)) return damaged(name, "not valid JSON (cut?)")
    }
    const config = yield* readOrNone(store.join(dir, "config.json"))
    const perContext = Option.isSome(config) && parses(config.value) ? (JSON.parse(config.value) as { output?: { perContext?: unknown } }).output?.perContext : undefined
    if (perContext !== false && Option.isNone(yield* readOrNone(store.join(dir, "per-context.csv")))) return damaged("per-context.csv", "missing")
    return INTACT
  })

/**
 * Whether the run in `dir` finished, and if so whether every file it recorded is as it wrote it. Reads only; never
 * fails (an unreadable file is a damaged one).
 */
export const verifyRun = (dir: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const summaryText = yield* store.readText(store.join(dir, SUMMARY)).pipe(Effect.orElseSucceed(() => Option.some("")))
    if (Option.isNone(summaryText)) return { _tag: "Unfinished" } as RunIntegrity
    const digestsText = yield* readOrNone(store.join(dir, DIGESTS))
    if (Option.isNone(digestsText)) return yield* verifyStructure(dir, summaryText.value)
    let recorded: unknown
    try {
      recorded = JSON.parse(digestsText.value)
    } catch {
      return damaged(DIGESTS, "not valid JSON (cut?)")
    }
    const files = isObject(recorded) && isObject(recorded["files"]) ? recorded["files"] : undefined
    if (files === undefined || !(SUMMARY in files)) return damaged(DIGESTS, "does not list the run's files")
    for (const [name, expected] of Object.entries(files)) {
      const text = name === SUMMARY ? summaryText : yield* readOrNone(store.join(dir, name))
      if (Option.isNone(text)) return damaged(name, "missing")
      const actual = digestOf(text.value)
      const want = expected as Partial<FileDigest>
      if (actual.sha256 !== want.sha256) {
        return damaged(
          name,
          actual.bytes === 0
            ? "empty"
            : actual.bytes !== want.bytes
              ? `${actual.bytes} bytes where the finished run wrote ${want.bytes} (cut or altered)`
              : "altered (its SHA-256 differs from the one recorded when the run finished)"
        )
      }
    }
    return INTACT
  })

/** The file at fault and what is wrong with it: "metrics.jsonl: 812 bytes where the finished run wrote 4006 (cut or altered)". */
export const describeDamage = (integrity: Extract<RunIntegrity, { _tag: "Damaged" }>) => `${integrity.file}: ${integrity.problem}`

/**
 * Makes a damaged run unfinished (removes summary.json and digests.json), so that it is trained again from its newest
 * checkpoint; every result file is then written anew.
 */
export const unfinishRun = (dir: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    yield* store.remove(store.join(dir, SUMMARY))
    yield* store.remove(store.join(dir, DIGESTS))
  })
