/**
 * A sweep, run to completion and resumable: `<output.dir>/<name>/` holds
 *   sweep.json        what defines the sweep: its runs (id, seed, axis values, config), judged run by run on a rerun
 *   manifest.json     every run with its id, axes, seed and state (pending, running, done, failed)
 *   <run id>/         each run's folder (see the kind's Run module)
 *   results.csv       one row per run
 *   aggregate.csv/.md mean ± 95% CI over seeds per configuration, with the split of learned solutions
 * Rerunning the same command skips finished runs and continues partial ones from their checkpoints. Transient
 * failures are retried with exponential backoff; deterministic ones mark the run failed and the sweep goes on.
 */
import type { Worker } from "node:worker_threads"
import { type Duration, Effect, Either, Option, Schedule } from "effect"
import { type BaseConfig, canonicalJson } from "../domain/ConfigSchema.js"
import { NotAFolder, RunFailed, StoreError, SweepDrift, SweepFailed } from "../domain/Errors.js"
import { type ResultRow, toCsv } from "../domain/Results.js"
import { reconcileSweep, type RunState, storedRunsOf, type SweepDefinition, type SweepPlan, type SweepRun } from "../domain/Sweep.js"
import { inspectLock, lockFolder } from "../services/FolderLock.js"
import { formatDuration, makeProgress, terminalLine } from "../services/Logging.js"
import { RunStore } from "../services/RunStore.js"
import { Placement } from "./Placement.js"
import { experimentNamed, planSweep } from "./Registry.js"
import { checkpointStep } from "./RunFolder.js"
import { describeDamage, verifyRun } from "./RunIntegrity.js"
import { folderKind } from "./Folders.js"

export interface ManifestRun {
  readonly id: string
  readonly seed: number
  readonly axes: Readonly<Record<string, unknown>>
  state: RunState
  attempts: number
  error: string | null
}

export interface Manifest {
  readonly name: string
  pid: number
  concurrency: number
  updatedAt: string
  readonly runs: Array<ManifestRun>
}

export interface SweepOptions {
  /** Runs trained at once; by default the number of cores. */
  readonly concurrency?: number
  /** Retries of a transient failure, with exponential backoff from `retryBase`. */
  readonly retries?: number
  readonly retryBase?: Duration.DurationInput
  /** Observes each worker thread of the pool as it starts (tests use it to make a thread die mid-run). */
  readonly onWorkerStart?: (worker: Worker) => void
}

export interface SweepResult {
  readonly folder: string
  readonly runs: number
  readonly done: number
  /** Runs that had finished before this invocation. */
  readonly reused: number
  readonly failed: ReadonlyArray<{ readonly runId: string; readonly reason: string }>
}

const FAILURE_FILE = "failure.json"

/** results.csv, aggregate.csv and aggregate.md, by the sweep's experiment kind; returns the aggregate's markdown. */
const writeTables = (plan: SweepPlan, runs: ReadonlyArray<SweepRun>, folder: string, manifest: Manifest) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const experiment = experimentNamed(plan.kind)
    const rows: Array<ResultRow> = []
    for (const run of runs) {
      const entry = manifest.runs.find((r) => r.id === run.id)!
      const dir = store.join(folder, run.id)
      const summary = yield* store.readJson(store.join(dir, "summary.json")).pipe(Effect.orElseSucceed(() => Option.none<unknown>()))
      const runJson = yield* store.readJson(store.join(dir, "run.json")).pipe(Effect.orElseSucceed(() => Option.none<unknown>()))
      const wall = Option.getOrUndefined(runJson) as { wallSeconds?: number } | undefined
      rows.push(experiment.resultRow(run, entry.state, Option.getOrUndefined(summary), wall?.wallSeconds ?? null, entry.error))
    }
    const axisColumns = [...new Set(runs.flatMap((run) => Object.keys(run.axes)))]
    const columns = Object.keys(rows[0] ?? {})
    yield* store.writeText(store.join(folder, "results.csv"), toCsv(columns, rows))

    const keyColumns = [...axisColumns, ...(axisColumns.includes("model.attention") ? [] : ["attention"])]
    const { rows: aggregateRows, markdown } = experiment.aggregate(plan.name, rows, keyColumns)
    yield* store.writeText(store.join(folder, "aggregate.csv"), toCsv(Object.keys(aggregateRows[0] ?? {}), aggregateRows))
    yield* store.writeText(store.join(folder, "aggregate.md"), markdown)
    return markdown
  })

/** The folder's runs (stored and planned), as runs: a stored run that is not planned executes with the plan's knobs. */
const folderRuns = (plan: SweepPlan, definition: SweepDefinition): ReadonlyArray<SweepRun> => {
  const planned = new Map(plan.runs.map((run) => [run.id, run]))
  const knobs = { output: plan.runs[0]!.config.output, runtime: plan.runs[0]!.config.runtime }
  return definition.runs.map(
    (stored) => planned.get(stored.id) ?? { id: stored.id, seed: stored.seed, axes: stored.axes, config: { ...(stored.config as BaseConfig), ...knobs } }
  )
}

/**
 * Trains the planned runs of a sweep in its folder, which this process holds alone (FolderLock) for the duration.
 * The folder's sweep.json is judged run by run (reconcileSweep): a plan that changes no stored run is accepted (a
 * superset extends the sweep in place and reuses every finished run); one that changes a stored run is refused.
 */
export const runSweep = (plan: SweepPlan, options: SweepOptions = {}) =>
  Effect.scoped(Effect.gen(function* () {
    const store = yield* RunStore
    const folder = store.resolve(plan.outputDir, plan.name)

    yield* lockFolder(folder)
    // Temporary files of writes that a killed process left here (a live process's stay: it is not this folder's writer).
    yield* store.removeTemporaries(folder)
    const storedJson = yield* store.readJson(store.join(folder, "sweep.json"))
    const stored = Option.isNone(storedJson) ? undefined : storedRunsOf(storedJson.value, planSweep)
    if (stored !== undefined && Either.isLeft(stored)) {
      return yield* new StoreError({ reason: "Corrupt", path: store.join(folder, "sweep.json"), detail: stored.left })
    }
    const reconciled = reconcileSweep(stored === undefined ? undefined : Either.getOrThrow(stored), plan)
    if (reconciled._tag === "Drift") return yield* new SweepDrift({ folder, changes: reconciled.changes })
    const { definition } = reconciled
    if (reconciled._tag === "Compatible" && reconciled.added > 0) {
      yield* Effect.logInfo(`extending the sweep in ${folder} with ${reconciled.added} new run${reconciled.added === 1 ? "" : "s"}`)
    }
    if (Option.isNone(storedJson) || canonicalJson(storedJson.value) !== canonicalJson(definition)) {
      yield* store.writeJson(store.join(folder, "sweep.json"), definition)
    }
    const runs = folderRuns(plan, definition)
    const planned = new Set(plan.runs.map((run) => run.id))
    const placement = yield* (yield* Placement).open(runs.length, { concurrency: options.concurrency, onWorkerStart: options.onWorkerStart })
    const concurrency = placement.concurrency

    const manifest: Manifest = {
      name: plan.name,
      pid: process.pid,
      concurrency: placement.slots,
      updatedAt: new Date().toISOString(),
      runs: []
    }
    for (const run of runs) {
      const dir = store.join(folder, run.id)
      // A finished run counts as done only when every file it recorded is intact; a damaged one is repaired below.
      const integrity = yield* verifyRun(dir)
      const finished = integrity._tag === "Intact"
      if (integrity._tag === "Damaged") {
        yield* Effect.logWarning(`run ${run.id} is damaged (${describeDamage(integrity)}); it will be repaired from its newest checkpoint`)
      }
      const failure = yield* store.readJson(store.join(dir, FAILURE_FILE)).pipe(Effect.orElseSucceed(() => Option.none<unknown>()))
      manifest.runs.push({
        id: run.id,
        seed: run.seed,
        axes: run.axes,
        state: finished ? "done" : Option.isSome(failure) ? "failed" : "pending",
        attempts: 0,
        error: Option.isSome(failure) ? String((failure.value as { reason?: unknown }).reason) : null
      })
    }
    // Saves coalesce: a caller that finds its change already written by a save that began after it returns at once,
    // so that a sweep of thousands of runs writes its manifest about once per change burst, not twice per run.
    const semaphore = yield* Effect.makeSemaphore(1)
    let unsaved = false
    const saveManifest = Effect.suspend(() => {
      unsaved = true
      return semaphore.withPermits(1)(
        Effect.suspend(() => {
          if (!unsaved) return Effect.void
          unsaved = false
          manifest.updatedAt = new Date().toISOString()
          return store.writeText(store.join(folder, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
        })
      )
    })
    yield* saveManifest

    const pending = runs.filter((run) => planned.has(run.id) && manifest.runs.find((r) => r.id === run.id)!.state === "pending")
    const alreadyDone = manifest.runs.filter((r) => r.state === "done").length
    yield* Effect.logInfo(`sweep ${plan.name}: ${runs.length} runs`).pipe(
      Effect.annotateLogs({ done: alreadyDone, pending: pending.length, failed: manifest.runs.filter((r) => r.state === "failed").length, on: placement.where, folder })
    )
    const progress = makeProgress(`sweep ${plan.name}`, runs.length, runs.length > 1)
    let finishedCount = alreadyDone
    const single = runs.length === 1
    const retry = Schedule.exponential(options.retryBase ?? "500 millis", 2).pipe(Schedule.intersect(Schedule.recurs(options.retries ?? 3)))
    const runOne = (run: SweepRun) =>
      Effect.gen(function* () {
        const entry = manifest.runs.find((r) => r.id === run.id)!
        const dir = store.join(folder, run.id)
        const attempt = Effect.suspend(() => {
          entry.attempts += 1
          entry.state = "running"
          return saveManifest.pipe(
            Effect.mapError((error) => new RunFailed({ runId: run.id, reason: error.message, transient: true })),
            Effect.zipRight(placement.execute(run, dir))
          )
        })
        const outcome = yield* attempt.pipe(
          Effect.tapError((error) =>
            error.transient
              ? Effect.logWarning(`run ${run.id} failed (attempt ${entry.attempts}); retrying`).pipe(Effect.annotateLogs({ reason: error.reason }))
              : Effect.void
          ),
          Effect.retry({ schedule: retry, while: (error) => error.transient }),
          Effect.either
        )
        if (outcome._tag === "Right") {
          entry.state = "done"
          entry.error = null
        } else {
          entry.state = "failed"
          entry.error = outcome.left.reason
          // A deterministic failure is recorded with the run, so that a rerun does not repeat it.
          if (!outcome.left.transient) {
            yield* store.writeJson(store.join(dir, FAILURE_FILE), { runId: run.id, reason: outcome.left.reason })
          }
          yield* Effect.logError(`run ${run.id} failed: ${outcome.left.reason}`)
        }
        finishedCount += 1
        progress.update(finishedCount, `${manifest.runs.filter((r) => r.state === "failed").length} failed`)
        if (entry.state === "done") {
          yield* Effect.logInfo(`run ${run.id} done (${finishedCount}/${runs.length})`).pipe(
            Effect.annotateLogs({ seed: run.seed, ...Object.fromEntries(Object.entries(run.axes).map(([k, v]) => [k, JSON.stringify(v)])) })
          )
        }
        yield* saveManifest
      }).pipe(
        // On an interrupt the run keeps its checkpoint (written at the step it stopped at), the manifest says it is
        // pending again, and the terminal says where it stopped (unless it goes on elsewhere: see detachedNote).
        Effect.onInterrupt(() =>
          Effect.gen(function* () {
            const entry = manifest.runs.find((r) => r.id === run.id)!
            if (entry.state !== "running") return
            entry.state = "pending"
            yield* saveManifest.pipe(Effect.orDie)
            if (placement.detachedNote !== undefined) return
            const step = yield* checkpointStep(store.join(folder, run.id))
            yield* terminalLine(
              `${single ? "" : `run ${run.id}: `}interrupted ${Option.match(step, { onNone: () => "before its first step", onSome: (n) => `at step ${n}` })}; rerun the same command to continue`
            )
          })
        )
      )

    yield* Effect.forEach(pending, runOne, { concurrency, discard: true }).pipe(
      Effect.ensuring(Effect.sync(() => progress.done())),
      Effect.onInterrupt(() => (placement.detachedNote !== undefined ? terminalLine(placement.detachedNote) : Effect.void))
    )
    manifest.pid = 0
    yield* saveManifest
    const markdown = yield* writeTables(plan, runs, folder, manifest)
    const failed = manifest.runs.filter((r) => r.state === "failed").map((r) => ({ runId: r.id, reason: r.error ?? "unknown" }))
    const result: SweepResult = {
      folder,
      runs: runs.length,
      done: manifest.runs.filter((r) => r.state === "done").length,
      reused: alreadyDone,
      failed
    }
    return { result, markdown }
  }))

/** Fails with SweepFailed when any run failed (after every result was written). */
export const requireAllDone = (result: SweepResult) =>
  result.failed.length > 0 ? Effect.fail(new SweepFailed({ folder: result.folder, failures: [...result.failed] })) : Effect.void

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** manifest.json, checked: a list of runs, each with its id, seed, axes and state. */
const readManifest = (folder: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const path = store.join(folder, "manifest.json")
    const fix = "rerun the sweep's command to write it again"
    const json = yield* store.readJson(path).pipe(Effect.mapError((error) => new NotAFolder({ path, reason: `${error.detail}; ${fix}` })))
    const value = Option.getOrUndefined(json)
    const runs = isRecord(value) && Array.isArray(value["runs"]) ? (value["runs"] as Array<unknown>) : undefined
    const valid =
      runs?.every((r) => isRecord(r) && typeof r["id"] === "string" && typeof r["seed"] === "number" && isRecord(r["axes"]) && typeof r["state"] === "string") ?? false
    if (!valid) return yield* new NotAFolder({ path, reason: `is not a sweep manifest (expected { name, runs: [{ id, seed, axes, state }, …] }); ${fix}` })
    const manifest = value as unknown as Manifest
    return { ...manifest, name: String(manifest.name), concurrency: typeof manifest.concurrency === "number" ? manifest.concurrency : 1 }
  })

/** The last step of a run's newest checkpoint (read from its first bytes) and the steps it trains, when known. */
const progressOf = (dir: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const read = (name: string) => store.readText(store.join(dir, name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    const checkpoint = yield* read("checkpoint.json")
    const match = Option.isSome(checkpoint) ? /"step":(\d+)/.exec(checkpoint.value.slice(0, 400)) : null
    const config = yield* read("config.json")
    let steps: number | undefined
    if (Option.isSome(config)) {
      try {
        const value = (JSON.parse(config.value) as { training?: { steps?: unknown } }).training?.steps
        if (typeof value === "number" && value > 0) steps = value
      } catch {
        steps = undefined
      }
    }
    return { step: match ? Number(match[1]) : 0, steps }
  })

const holderOf = (lock: ReturnType<typeof inspectLock>) =>
  lock.state === "held" && lock.owner !== undefined ? `pid ${lock.owner.pid} on ${lock.owner.host}, since ${lock.owner.since}` : "pid unknown"

/** `status` on one run's folder: finished (verified), damaged, partial or not started, and whether it is running. */
const runStatus = (dir: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const id = dir.replace(/\/+$/, "").split("/").pop()!
    const integrity = yield* verifyRun(dir)
    if (integrity._tag === "Intact") return `run ${id} (${dir}): finished (every file as the run wrote it)`
    if (integrity._tag === "Damaged") return `run ${id} (${dir}): finished, but damaged: ${describeDamage(integrity)}; rerun its command to repair it`
    const { step, steps } = yield* progressOf(dir)
    const lock = inspectLock(store.resolve(dir, ".."))
    const state = lock.state === "held" ? `running (${holderOf(lock)})` : "not running"
    const failure = yield* store.readJson(store.join(dir, FAILURE_FILE)).pipe(Effect.orElseSucceed(() => Option.none<unknown>()))
    if (Option.isSome(failure)) return `run ${id} (${dir}): failed: ${String((failure.value as { reason?: unknown }).reason)}`
    return `run ${id} (${dir}): ${step > 0 ? `at step ${step}${steps === undefined ? "" : ` of ${steps}`}` : "not started"}, ${state}${lock.state === "held" ? "" : step > 0 ? " (rerun its command to continue)" : ""}`
  })

/**
 * `status <folder>`: for a sweep folder, counts by state (finished runs verified), the ETA of what is left (partial
 * runs count their remaining steps only), and every failure or damaged run; for a run folder, its state.
 */
export const sweepStatus = (folder: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    if ((yield* folderKind(folder)) === "run") return yield* runStatus(folder)
    const manifest = yield* readManifest(folder)
    const lock = inspectLock(folder)
    const alive = lock.state === "held"
    const count = (state: RunState) => manifest.runs.filter((r) => r.state === state).length
    const walls: Array<number> = []
    const partial: Array<string> = []
    const damagedRuns: Array<string> = []
    // Runs left, in units of whole runs: a partial run counts only the steps it has left.
    let remaining = 0
    for (const run of manifest.runs) {
      const dir = store.join(folder, run.id)
      if (run.state === "done") {
        const integrity = yield* verifyRun(dir)
        if (integrity._tag === "Damaged") {
          damagedRuns.push(`    - ${run.id}: ${describeDamage(integrity)}`)
          remaining += 1
          continue
        }
        const runJson = yield* store.readJson(store.join(dir, "run.json")).pipe(Effect.orElseSucceed(() => Option.none<unknown>()))
        const wall = (Option.getOrUndefined(runJson) as { wallSeconds?: number } | undefined)?.wallSeconds
        if (typeof wall === "number" && Number.isFinite(wall)) walls.push(wall)
      } else if (run.state !== "failed") {
        const { step, steps } = yield* progressOf(dir)
        if (step > 0) partial.push(`${run.id} at step ${step}${steps === undefined ? "" : ` of ${steps}`}`)
        remaining += steps === undefined ? 1 : Math.max(0, 1 - step / steps)
      }
    }
    const left = count("pending") + count("running") + damagedRuns.length
    const meanWall = walls.length > 0 ? walls.reduce((s, v) => s + v, 0) / walls.length : Number.NaN
    const eta = (meanWall * remaining) / Math.max(1, Math.min(manifest.concurrency, Math.ceil(remaining)))
    // Runs the manifest says are running, in a folder that no live process holds, were interrupted (killed).
    const running = alive ? count("running") : 0
    const interrupted = alive ? 0 : count("running")
    // A killed process (SIGKILL, the OOM killer) leaves its runs "running" in the manifest: corrected here, so that the
    // file tells the truth too (the next `run` rebuilds it from the run folders anyway). Best effort: a read-only
    // folder keeps its manifest.
    let corrected = false
    if (interrupted > 0) {
      const fixed = { ...manifest, pid: 0, updatedAt: new Date().toISOString(), runs: manifest.runs.map((r) => (r.state === "running" ? { ...r, state: "pending" as const } : r)) }
      corrected = yield* store.writeText(store.join(folder, "manifest.json"), `${JSON.stringify(fixed, null, 2)}\n`).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
    }
    const lines = [
      `sweep ${manifest.name} (${folder}): ${alive ? `running (${holderOf(lock)})` : interrupted > 0 ? "not running, interrupted (rerun its command to continue)" : "not running"}`,
      `  runs      ${manifest.runs.length}: ${count("done") - damagedRuns.length} done, ${running} running, ${count("failed")} failed, ${count("pending")} pending${interrupted > 0 ? `, ${interrupted} interrupted` : ""}${damagedRuns.length > 0 ? `, ${damagedRuns.length} damaged` : ""}`,
      `  ETA       ${left === 0 ? "0s" : Number.isFinite(eta) ? `~${formatDuration(eta)} (mean run ${formatDuration(meanWall)}, ${manifest.concurrency} at a time${partial.length > 0 ? ", partial runs counted by their steps left" : ""})` : "unknown until a run finishes"}`,
      ...(partial.length > 0 ? [`  partial   ${partial.join("; ")}`] : []),
      ...(corrected ? [`  manifest  corrected: the ${interrupted} run${interrupted === 1 ? "" : "s"} a stopped process left as running ${interrupted === 1 ? "is" : "are"} pending again`] : []),
      ...(damagedRuns.length > 0 ? ["  damaged (rerun the sweep's command to repair)", ...damagedRuns] : []),
      ...(count("failed") > 0
        ? ["  failures", ...manifest.runs.filter((r) => r.state === "failed").map((r) => `    - ${r.id} (seed ${r.seed}${Object.entries(r.axes).map(([k, v]) => `, ${k}=${JSON.stringify(v)}`).join("")}): ${r.error}`)]
        : [])
    ]
    return lines.join("\n")
  })
