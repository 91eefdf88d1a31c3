/**
 * What the cluster tests share: a throwaway PostgreSQL server (Debian's, initdb into a temporary folder, a free port
 * on 127.0.0.1, stopped at the end), a database per test, SQL through psql, worker and submitter processes of the
 * real CLI with their output kept, and waiting for observed progress (never for a fixed time).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { initPostgres, type LocalPostgres, postgresBin, stopPostgres } from "../../src/services/cluster/LocalPostgres.js"
import { freePort } from "../../src/services/cluster/Ports.js"
import { root } from "./cli.js"

export const startServer = async (): Promise<LocalPostgres & { readonly close: () => void }> => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-pg-"))
  const server = initPostgres(dir, await freePort(), { durable: false })
  return {
    ...server,
    close: () => {
      stopPostgres(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** A fresh database on the server; its URL. */
export const createDatabase = (server: LocalPostgres, name: string) => {
  psql(server.url, `CREATE DATABASE ${name}`)
  return server.url.replace(/\/icl$/, `/${name}`)
}

/** Runs SQL with psql; the rows as arrays of text fields. */
export const psql = (url: string, query: string): Array<Array<string>> => {
  const result = spawnSync(join(postgresBin(), "psql"), [url, "-v", "ON_ERROR_STOP=1", "-AtF", "\t", "-c", query], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`)
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"))
}

/** One number from a query. */
export const count = (url: string, query: string) => Number(psql(url, query)[0]?.[0] ?? Number.NaN)

export interface Process {
  readonly child: ChildProcess
  /** Everything it wrote so far (stdout and stderr). */
  readonly output: () => string
  /** Resolves with its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  readonly alive: () => boolean
}

/** Every process started and folder made here that is not yet cleaned up (see cleanUp). */
const started = new Set<ChildProcess>()
const folders = new Set<string>()

/** A fresh temporary folder holding `config.json`, removed by cleanUp. */
export const tempConfig = (config: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-cluster-"))
  folders.add(dir)
  const file = join(dir, "config.json")
  writeFileSync(file, JSON.stringify(config))
  return { dir, file }
}

/**
 * Kills (SIGKILL) every process started here that still runs, waits for each, and removes every folder made here: a
 * test that fails midway leaves no worker, submitter or folder behind.
 */
export const cleanUp = async () => {
  const running = [...started].filter((child) => child.exitCode === null && child.signalCode === null)
  await Promise.all(
    running.map((child) => {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGKILL")
      return exited
    })
  )
  started.clear()
  for (const dir of folders) rmSync(dir, { recursive: true, force: true })
  folders.clear()
}

/** Starts the CLI as `pnpm start` runs it (the launcher) with `args` in `cwd`, keeping its output. */
export const startProcess = (args: ReadonlyArray<string>, cwd: string): Process => {
  const child = spawn(process.execPath, [join(root, "scripts", "start.mjs"), ...args], {
    cwd,
    env: { ...process.env, LOG_LEVEL: "INFO" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  started.add(child)
  let text = ""
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()))
  let running = true
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running = false
      started.delete(child)
      resolve(code)
    })
  )
  return { child, output: () => text, exited, alive: () => running }
}

/** Waits (polling every 50 ms) until `condition` holds; fails after `limitMs` with `what` and `context()`. */
export const waitFor = async (what: string, condition: () => boolean, context: () => string = () => "", limitMs = 180_000) => {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}\n${context()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface Worker extends Process {
  /** host:port, as the cluster names it. */
  readonly address: string
}

/** Starts `n` workers (one run at a time each) on the cluster at `url` and waits until each has joined. */
export const startWorkers = async (url: string, n: number, cwd: string): Promise<Array<Worker>> => {
  const workers: Array<Worker> = []
  for (let i = 0; i < n; i++) {
    const port = await freePort()
    const worker = startProcess(["worker", "--cluster", url, "--host", "127.0.0.1", "--port", String(port), "-j", "1", "--work-dir", join(cwd, `work-${port}`)], cwd)
    workers.push({ ...worker, address: `127.0.0.1:${port}` })
  }
  for (const worker of workers) {
    await waitFor(`worker ${worker.address} to join`, () => worker.output().includes("joined the cluster") || !worker.alive(), worker.output)
    if (!worker.alive()) throw new Error(`worker ${worker.address} exited:\n${worker.output()}`)
  }
  return workers
}

/** Stops workers (SIGTERM) and waits for them. */
export const stopWorkers = async (workers: ReadonlyArray<Process>) => {
  for (const worker of workers) if (worker.alive()) worker.child.kill("SIGTERM")
  await Promise.all(workers.map((w) => w.exited))
}
