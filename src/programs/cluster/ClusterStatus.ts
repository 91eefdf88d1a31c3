/**
 * `status <folder> --cluster <url>`: the sweep's status as `status <folder>` reports it from the folder, then what
 * the cluster knows about its runs: the runners alive, which runner holds which run and at which step, the runs that
 * moved between runners, and the failures.
 */
import { Effect, Layer, Option } from "effect"
import { StoreError } from "../../domain/Errors.js"
import { ClusterStore, type ClusterRun } from "../../services/cluster/ClusterStore.js"
import { DatabaseLive, redactUrl } from "../../services/cluster/ClusterLayers.js"
import { RunStore } from "../../services/RunStore.js"
import { sweepStatus } from "../Sweep.js"

/** A runner counts as alive while its heartbeat is this recent (the cluster's shard-lock expiration). */
const ALIVE_WITHIN_SECONDS = 10

const progressOf = (run: ClusterRun) => (run.step !== null && run.steps !== null ? `step ${run.step}/${run.steps}` : "starting")

/** The cluster's view of a sweep's runs, as lines of text. */
export const clusterRunLines = (url: string, runIds: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* ClusterStore
    const runs = yield* store.runs(runIds)
    const alive = new Set(yield* store.liveRunners(ALIVE_WITHIN_SECONDS))
    const count = (state: ClusterRun["state"]) => runs.filter((r) => r.state === state).length
    const queued = runIds.length - runs.length
    const lines = [
      `cluster ${redactUrl(url)}: ${alive.size} runner${alive.size === 1 ? "" : "s"} alive${alive.size > 0 ? ` (${[...alive].join(", ")})` : ""}`,
      `  runs      ${runIds.length}: ${count("done")} done, ${count("running")} running, ${count("failed")} failed, ${queued} not started`
    ]
    const running = runs.filter((r) => r.state === "running")
    const holders = [...new Set(running.map((r) => r.runner ?? "?"))].sort()
    for (const runner of holders) {
      const held = running.filter((r) => (r.runner ?? "?") === runner)
      const note = alive.has(runner) ? "" : " (not alive: its runs move to live runners with its shards)"
      lines.push(`  ${runner}${note}: ${held.map((r) => `${r.runId} at ${progressOf(r)}`).join("; ")}`)
    }
    const moved = runs.filter((r) => r.runners.length > 1)
    if (moved.length > 0) {
      lines.push(`  moved     ${moved.length} run${moved.length === 1 ? "" : "s"} between runners: ${moved.map((r) => `${r.runId} (${r.runners.join(" → ")})`).join("; ")}`)
    }
    const failed = runs.filter((r) => r.state === "failed")
    if (failed.length > 0) lines.push("  failures", ...failed.map((r) => `    - ${r.runId} on ${r.runner ?? "?"}: ${r.error ?? "unknown"}`))
    return lines
  })

/** `status <folder> --cluster <url>`. */
export const sweepClusterStatus = (folder: string, url: string) =>
  Effect.gen(function* () {
    const local = yield* sweepStatus(folder)
    const store = yield* RunStore
    const manifest = yield* store.readJson(store.join(folder, "manifest.json"))
    if (Option.isNone(manifest)) {
      return yield* new StoreError({ reason: "ReadFailed", path: folder, detail: "no manifest.json here: not a sweep folder" })
    }
    const runIds = ((manifest.value as { runs?: ReadonlyArray<{ id: string }> }).runs ?? []).map((r) => r.id)
    const cluster = yield* clusterRunLines(url, runIds).pipe(Effect.provide(ClusterStore.Default.pipe(Layer.provide(DatabaseLive(url)))))
    return [local, ...cluster].join("\n")
  })
