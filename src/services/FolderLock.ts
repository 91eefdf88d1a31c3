/**
 * One writer per sweep folder. `run` holds `<folder>/.lock` (proper-lockfile: an atomic mkdir whose mtime the holder
 * refreshes every UPDATE_MS) for as long as it writes there, and records who holds it in `<folder>/lock.json` (pid,
 * host, start time, command). A second process is refused with the holder's details; a lock left by a process that is
 * no longer running (same host: its pid is gone; another host: the lock has not been refreshed for STALE_MS) is taken
 * over with a log line. `status` reads the same files to say whether a sweep is running or was interrupted.
 */
import { readFileSync, rmSync, statSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import lockfile from "proper-lockfile"
import { StoreError, SweepLocked } from "../domain/Errors.js"
import { RunStore } from "./RunStore.js"

export const LOCK_DIR = ".lock"
export const LOCK_OWNER = "lock.json"

/** The holder refreshes the lock's mtime this often. */
const UPDATE_MS = 2_000
/** A lock whose holder cannot be checked (another host) is taken over once it has not been refreshed for this long. */
const STALE_MS = 30_000
/** A lock on this host whose holder is gone is taken over once its mtime is this old (proper-lockfile's minimum). */
const DEAD_STALE_MS = 2_000
/** How long an acquisition keeps trying while a lock is being released or taken over (never while a live holder holds it). */
const ACQUIRE_PATIENCE_MS = 15_000

export interface LockOwner {
  readonly pid: number
  readonly host: string
  /** ISO time the holder took the lock. */
  readonly since: string
  readonly command: string
}

/** What holds a folder now. */
export type LockState =
  | { readonly state: "free" }
  | { readonly state: "held"; readonly owner: LockOwner | undefined }
  /** The lock (or its owner file) was left by a process that is no longer running. */
  | { readonly state: "abandoned"; readonly owner: LockOwner | undefined }

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const readOwner = (folder: string): LockOwner | undefined => {
  try {
    const value = JSON.parse(readFileSync(join(folder, LOCK_OWNER), "utf8")) as Partial<LockOwner>
    return typeof value.pid === "number" && typeof value.host === "string"
      ? { pid: value.pid, host: value.host, since: String(value.since ?? "?"), command: String(value.command ?? "?") }
      : undefined
  } catch {
    return undefined
  }
}

const lockAge = (folder: string): number | undefined => {
  const stat = statSync(join(folder, LOCK_DIR), { throwIfNoEntry: false })
  return stat === undefined ? undefined : Date.now() - stat.mtimeMs
}

/** Whether the owner is a live process: on this host by its pid, on another by the lock's freshness. */
const ownerAlive = (folder: string, owner: LockOwner | undefined): boolean => {
  if (owner !== undefined && owner.host === hostname()) return isAlive(owner.pid)
  const age = lockAge(folder)
  return age !== undefined && age < STALE_MS
}

/** Who holds the folder, without taking anything. */
export const inspectLock = (folder: string): LockState => {
  const owner = readOwner(folder)
  if (lockAge(folder) === undefined) return owner !== undefined ? { state: "abandoned", owner } : { state: "free" }
  return ownerAlive(folder, owner) ? { state: "held", owner } : { state: "abandoned", owner }
}

const tryLock = (folder: string, stale: number) =>
  Effect.tryPromise({
    try: () =>
      lockfile.lock(folder, {
        lockfilePath: join(folder, LOCK_DIR),
        realpath: false,
        stale,
        update: UPDATE_MS,
        onCompromised: (error) => {
          // Someone removed or replaced the lock while this process held it: say so, and keep going (the files written
          // are atomic, and the other process refuses to write while this one's pid is alive).
          process.stderr.write(`warning: the lock on ${folder} was taken from this process: ${error.message}\n`)
        }
      }),
    catch: (error) => error as NodeJS.ErrnoException
  })

/**
 * Holds the folder's lock for the scope (the folder is created when missing). Fails with SweepLocked when a live
 * process holds it; takes over a lock whose holder is gone.
 */
export const lockFolder = (folder: string): Effect.Effect<LockOwner, SweepLocked | StoreError, Scope.Scope | RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    yield* store.ensureDir(folder)
    const started = Date.now()
    const acquire: Effect.Effect<() => Promise<void>, SweepLocked | StoreError> = Effect.gen(function* () {
      for (;;) {
        const previous = readOwner(folder)
        const locked = lockAge(folder) !== undefined
        const gone = locked && !ownerAlive(folder, previous)
        if (locked && !gone && previous !== undefined) {
          return yield* new SweepLocked({ folder, ...previous })
        }
        // A live holder's lock is never treated as stale; a gone holder's is, once proper-lockfile agrees it is old.
        const stale = !gone ? Number.MAX_SAFE_INTEGER : previous?.host === hostname() ? DEAD_STALE_MS : STALE_MS
        const attempt = yield* Effect.either(tryLock(folder, stale))
        if (attempt._tag === "Right") {
          if (gone) {
            yield* Effect.logWarning(
              `took over the lock of ${folder}${previous ? ` left by pid ${previous.pid} on ${previous.host} (since ${previous.since}), which is no longer running` : ", left by a process that is no longer running"}`
            )
          }
          return attempt.right
        }
        if (attempt.left.code !== "ELOCKED") {
          return yield* new StoreError({ reason: "WriteFailed", path: join(folder, LOCK_DIR), detail: attempt.left.message })
        }
        // The lock is being taken or released by another process (its owner file not written yet), or it is a gone
        // holder's lock that is not old enough yet: look again shortly.
        if (Date.now() - started > ACQUIRE_PATIENCE_MS) {
          const owner = readOwner(folder)
          return yield* new SweepLocked({ folder, pid: owner?.pid ?? 0, host: owner?.host ?? "?", since: owner?.since ?? "?", command: owner?.command ?? "?" })
        }
        yield* Effect.sleep("200 millis")
      }
    })
    yield* Effect.acquireRelease(acquire, (unlock) =>
      Effect.promise(async () => {
        rmSync(join(folder, LOCK_OWNER), { force: true })
        await unlock().catch(() => undefined)
      })
    )
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      command: process.argv.slice(2).join(" ")
    }
    yield* store.writeJson(join(folder, LOCK_OWNER), owner)
    return owner
  })
