/**
 * A cluster on this machine, to try `--cluster` without setting anything up:
 *
 *   pnpm cluster:up -- --workers 3 [-j N]   starts PostgreSQL (Debian's, data in .cluster/postgres) and N workers
 *                                           (logs in .cluster/worker-<i>.log), and prints the --cluster URL
 *   pnpm cluster:down [-- --purge]          stops the workers (each checkpoints its runs) and PostgreSQL;
 *                                           --purge also deletes .cluster (the database with it)
 *
 * The database outlives cluster:down, so a sweep can be collected after the cluster comes up again.
 */
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { join } from "node:path"
import { initPostgres, isInitialised, isRunning, startPostgres, stopPostgres } from "../src/services/cluster/LocalPostgres.js"
import { freePort, freePortFrom } from "../src/services/cluster/Ports.js"

const root = join(import.meta.dirname, "..")
const home = join(root, ".cluster")
const pgDir = join(home, "postgres")
const stateFile = join(home, "state.json")

interface State {
  readonly url: string
  readonly port: number
  readonly workers: ReadonlyArray<{ readonly pid: number; readonly port: number; readonly log: string }>
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const readState = (): State | undefined => (existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as State) : undefined)

const option = (name: string, alias?: string): string | undefined => {
  const args = process.argv.slice(3)
  const index = args.findIndex((a) => a === `--${name}` || (alias !== undefined && a === `-${alias}`))
  return index >= 0 ? args[index + 1] : undefined
}

const positiveInteger = (name: string, value: string | undefined, fallback: number) => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name}: expected a positive integer, got ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return n
}

/** Waits until the worker's log says it joined, or fails with the log's end when it exits or takes a minute. */
const waitJoined = async (log: string, pid: number) => {
  const started = Date.now()
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, "utf8") : ""
    if (text.includes("joined the cluster")) return
    if (!isAlive(pid) || Date.now() - started > 60_000) {
      throw new Error(`worker ${pid} did not join the cluster; the end of ${log}:\n${text.split("\n").slice(-15).join("\n")}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

const up = async () => {
  const workers = positiveInteger("workers", option("workers", "w"), 2)
  const concurrency = positiveInteger("concurrency", option("concurrency", "j"), Math.max(1, Math.floor(availableParallelism() / workers)))
  const previous = readState()
  if (previous !== undefined && previous.workers.some((w) => isAlive(w.pid))) {
    console.log(`the cluster is up already (pnpm cluster:down stops it):\n  --cluster ${previous.url}`)
    return
  }
  mkdirSync(home, { recursive: true })
  const port = previous?.port ?? (await freePortFrom(54320))
  const server = isInitialised(pgDir) ? (isRunning(pgDir) ? { url: `postgres://icl@127.0.0.1:${port}/icl` } : startPostgres(pgDir, port)) : initPostgres(pgDir, port)
  console.log(`PostgreSQL at ${server.url} (data in ${pgDir})`)
  const started: Array<State["workers"][number]> = []
  for (let i = 1; i <= workers; i++) {
    const workerPort = await freePort()
    const log = join(home, `worker-${i}.log`)
    const out = openSync(log, "w")
    const child = spawn(
      process.execPath,
      [join(root, "scripts", "start.mjs"), "worker", "--cluster", server.url, "--host", "127.0.0.1", "--port", String(workerPort), "-j", String(concurrency), "--work-dir", join(home, `work-${i}`)],
      { cwd: root, detached: true, stdio: ["ignore", out, out] }
    )
    closeSync(out)
    child.unref()
    started.push({ pid: child.pid!, port: workerPort, log })
  }
  writeFileSync(stateFile, `${JSON.stringify({ url: server.url, port, workers: started } satisfies State, null, 2)}\n`)
  for (const worker of started) await waitJoined(worker.log, worker.pid)
  console.log(`${workers} workers, ${concurrency} run${concurrency === 1 ? "" : "s"} at a time each (logs in ${home}/worker-<i>.log)`)
  console.log(["", "Submit a sweep:", `  pnpm start run examples/quick/softmax-seeds.json --cluster ${server.url}`, "Watch it:", `  pnpm start status runs/softmax-seeds-quick --cluster ${server.url}`, "Stop the cluster:", "  pnpm cluster:down", "", `--cluster ${server.url}`].join("\n"))
}

const down = async () => {
  const state = readState()
  const workers = state?.workers ?? []
  for (const worker of workers) if (isAlive(worker.pid)) process.kill(worker.pid, "SIGTERM")
  // A stopping worker checkpoints its runs first; one that takes longer than a minute is killed.
  const deadline = Date.now() + 60_000
  while (workers.some((w) => isAlive(w.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  for (const worker of workers) if (isAlive(worker.pid)) process.kill(worker.pid, "SIGKILL")
  if (isInitialised(pgDir)) stopPostgres(pgDir)
  if (process.argv.includes("--purge")) rmSync(home, { recursive: true, force: true })
  else if (state !== undefined) writeFileSync(stateFile, `${JSON.stringify({ ...state, workers: [] } satisfies State, null, 2)}\n`)
  console.log(`stopped ${workers.length} worker${workers.length === 1 ? "" : "s"} and PostgreSQL${process.argv.includes("--purge") ? "; deleted .cluster" : ` (data kept in ${pgDir})`}`)
}

const command = process.argv[2]
if (command === "up") await up()
else if (command === "down") await down()
else {
  console.error("usage: tsx scripts/cluster.ts up [--workers N] [-j N] | down [--purge]")
  process.exit(2)
}
