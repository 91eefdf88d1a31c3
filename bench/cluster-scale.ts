/**
 * pnpm bench:cluster [--runs N] [--workers W]
 *
 * The cluster's own cost, measured: a sweep of N tiny runs (default 2,000: 5 steps, sets of 20, a 20-task grid)
 * submitted with `run --cluster` to W workers (default 4, one run at a time each) on this machine, against a
 * throwaway PostgreSQL (fsync on), and the same sweep run locally on W threads. Tiny runs make the dispatch cost
 * visible: per run, the slot time not spent training,
 *     overhead = (wall × slots − Σ run wall time) / N,
 * with the wall time taken from the sweep's first log line to its last run's; runs per second; and PostgreSQL's
 * rows, row writes and bytes per run, by table. Prints a table and writes .bench/cluster-scale.json.
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { initPostgres, postgresBin, stopPostgres } from "../src/services/cluster/LocalPostgres.js"
import { freePort } from "../src/services/cluster/Ports.js"
import { spawnSync } from "node:child_process"

const root = join(import.meta.dirname, "..")
const launcher = join(root, "scripts", "start.mjs")
const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? Number(process.argv[index + 1]) : fallback
}
const RUNS = argument("runs", 2000)
const WORKERS = argument("workers", 4)

const tiny = {
  name: "scale",
  task: { d: 3, C: 3, n: 8 },
  training: { steps: 5, batchSize: 8 },
  evaluation: { every: 5, logSpacedPoints: 1, size: 20 },
  references: { gridSize: 20, scanSize: 10, cSigma: { min: 0.1, max: 10, count: 3 }, scale: { min: 0.1, max: 10, count: 3 }, refine: false },
  runtime: { checkpointEvery: 1000 },
  output: { dir: "out", progress: false },
  sweep: { seeds: Array.from({ length: RUNS }, (_, i) => i) }
}

interface Timed {
  readonly code: number | null
  /** Seconds from the sweep's first log line ("sweep scale: N runs") to its last "done" line. */
  readonly sweepSeconds: number
  readonly totalSeconds: number
}

/** Runs the CLI, timing the sweep by the arrival of its log lines. */
const timedCli = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<Timed>((resolve) => {
    const started = performance.now()
    let first = Number.NaN
    let last = Number.NaN
    let buffer = ""
    const child = spawn(process.execPath, [launcher, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LOG_LEVEL: "INFO" } })
    child.stderr.on("data", (chunk: Buffer) => {
      const now = performance.now()
      buffer += chunk.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop()!
      for (const line of lines) {
        if (/sweep scale: \d+ runs/.test(line)) first = now
        if (/ done \(\d+\/\d+\)/.test(line)) last = now
        if (/ERROR|WARN/.test(line)) process.stderr.write(`${line}\n`)
      }
    })
    child.once("exit", (code) => resolve({ code, sweepSeconds: (last - first) / 1000, totalSeconds: (performance.now() - started) / 1000 }))
  })

const sumOfRunWalls = (folder: string) =>
  readdirSync(folder)
    .filter((f) => f.startsWith("scale-"))
    .reduce((sum, run) => sum + (JSON.parse(readFileSync(join(folder, run, "run.json"), "utf8")) as { wallSeconds: number }).wallSeconds, 0)

const psql = (url: string, query: string) => {
  const result = spawnSync(join(postgresBin(), "psql"), [url, "-AtF", "\t", "-c", query], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(result.stderr)
  return result.stdout.trim().split("\n").filter((l) => l !== "").map((l) => l.split("\t"))
}

const work = mkdtempSync(join(tmpdir(), "icl-gd-scale-"))
const pgDir = mkdtempSync(join(tmpdir(), "icl-gd-scale-pg-"))
const server = initPostgres(pgDir, await freePort())
const workers: Array<ReturnType<typeof spawn>> = []
try {
  // The local baseline: the same sweep on WORKERS threads of this process.
  const localDir = join(work, "local")
  mkdirSync(localDir)
  writeFileSync(join(localDir, "config.json"), JSON.stringify(tiny))
  console.log(`local: ${RUNS} tiny runs on ${WORKERS} threads …`)
  const local = await timedCli(["run", "config.json", "-j", String(WORKERS)], localDir)
  const localCompute = sumOfRunWalls(join(localDir, "out", "scale"))

  const clusterDir = join(work, "cluster")
  mkdirSync(clusterDir)
  writeFileSync(join(clusterDir, "config.json"), JSON.stringify(tiny))
  for (let i = 0; i < WORKERS; i++) {
    const port = await freePort()
    const log = join(work, `worker-${i}.log`)
    const child = spawn(
      `exec "${process.execPath}" ${launcher} worker --cluster ${server.url} --host 127.0.0.1 --port ${port} -j 1 --work-dir ${join(work, `w${i}`)} > ${log} 2>&1`,
      { shell: true, stdio: "ignore" }
    )
    workers.push(child)
    for (;;) {
      let text = ""
      try {
        text = readFileSync(log, "utf8")
      } catch {}
      if (text.includes("joined the cluster")) break
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  console.log(`cluster: ${RUNS} tiny runs on ${WORKERS} workers …`)
  const cluster = await timedCli(["run", "config.json", "--cluster", server.url], clusterDir)
  const clusterCompute = sumOfRunWalls(join(clusterDir, "out", "scale"))

  // Stopped workers have flushed their connections' statistics (row writes) to the server.
  for (const worker of workers) worker.kill("SIGTERM")
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once("exit", r)))))
  const tables = ["cluster_messages", "cluster_replies", "icl_run_files", "icl_runs", "cluster_runners"]
  psql(server.url, "ANALYZE")
  const perTable = tables.map((table) => {
    const [rows] = psql(server.url, `SELECT count(*) FROM ${table}`)[0]!
    const [bytes] = psql(server.url, `SELECT pg_total_relation_size('${table}')`)[0]!
    const [writes] = psql(server.url, `SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = '${table}'`)[0]!
    return { table, rows: Number(rows), bytes: Number(bytes), writes: Number(writes) }
  })
  const total = perTable.reduce((acc, t) => ({ rows: acc.rows + t.rows, bytes: acc.bytes + t.bytes, writes: acc.writes + t.writes }), { rows: 0, bytes: 0, writes: 0 })
  const [fileBytes] = psql(server.url, "SELECT sum(length(content)) FROM icl_run_files")[0]!

  const overhead = (wall: number, compute: number) => ((wall * WORKERS - compute) / RUNS) * 1000
  const result = {
    runs: RUNS,
    slots: WORKERS,
    local: { exit: local.code, sweepSeconds: local.sweepSeconds, totalSeconds: local.totalSeconds, runSecondsSum: localCompute, runsPerSecond: RUNS / local.sweepSeconds, overheadMsPerRun: overhead(local.sweepSeconds, localCompute) },
    cluster: {
      exit: cluster.code,
      sweepSeconds: cluster.sweepSeconds,
      totalSeconds: cluster.totalSeconds,
      runSecondsSum: clusterCompute,
      runsPerSecond: RUNS / cluster.sweepSeconds,
      overheadMsPerRun: overhead(cluster.sweepSeconds, clusterCompute)
    },
    database: {
      perRun: { rows: total.rows / RUNS, rowWrites: total.writes / RUNS, bytes: total.bytes / RUNS, fileBytes: Number(fileBytes) / RUNS },
      perTable
    }
  }
  mkdirSync(join(root, ".bench"), { recursive: true })
  writeFileSync(join(root, ".bench", "cluster-scale.json"), `${JSON.stringify(result, null, 2)}\n`)
  const f = (x: number, digits = 1) => x.toFixed(digits)
  console.log(
    [
      "",
      `| where | runs | slots | sweep wall (s) | runs/s | Σ run wall (s) | dispatch overhead per run (ms) |`,
      `| --- | --- | --- | --- | --- | --- | --- |`,
      `| local threads | ${RUNS} | ${WORKERS} | ${f(local.sweepSeconds)} | ${f(result.local.runsPerSecond)} | ${f(localCompute)} | ${f(result.local.overheadMsPerRun)} |`,
      `| cluster | ${RUNS} | ${WORKERS} | ${f(cluster.sweepSeconds)} | ${f(result.cluster.runsPerSecond)} | ${f(clusterCompute)} | ${f(result.cluster.overheadMsPerRun)} |`,
      "",
      `PostgreSQL per run: ${f(result.database.perRun.rows)} rows, ${f(result.database.perRun.rowWrites)} row writes, ${f(result.database.perRun.bytes / 1024)} KiB (run files ${f(result.database.perRun.fileBytes / 1024)} KiB)`,
      ...perTable.map((t) => `  ${t.table}: ${t.rows} rows, ${t.writes} row writes, ${f(t.bytes / 1024 / 1024, 2)} MiB`),
      `(exit codes: local ${local.code}, cluster ${cluster.code}; .bench/cluster-scale.json)`
    ].join("\n")
  )
} finally {
  for (const worker of workers) worker.kill("SIGTERM")
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once("exit", r)))))
  stopPostgres(pgDir)
  rmSync(work, { recursive: true, force: true })
  rmSync(pgDir, { recursive: true, force: true })
}
