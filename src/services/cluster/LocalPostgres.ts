/**
 * A PostgreSQL server of our own on this machine, from Debian's `postgresql` package: `initdb` into a folder, a server
 * on 127.0.0.1 at a port of our choosing with its socket in that folder, stopped when asked. The tests start a
 * throwaway one per run; `pnpm cluster:up` starts one for users to try the cluster on one machine.
 *
 * PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user that Debian's package creates
 * (through `runuser`), and the folder is handed to that user.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

export interface LocalPostgres {
  /** `postgres://icl@127.0.0.1:<port>/icl` */
  readonly url: string
  readonly port: number
  /** The data folder (the server's log is `<dir>/server.log`). */
  readonly dir: string
}

/** The folder with Debian's PostgreSQL programs: $PG_BIN, else the newest /usr/lib/postgresql/<version>/bin. */
export const postgresBin = (): string => {
  const fromEnv = process.env["PG_BIN"]
  if (fromEnv !== undefined && existsSync(join(fromEnv, "initdb"))) return fromEnv
  const root = "/usr/lib/postgresql"
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (versions.length === 0) {
    throw new Error("PostgreSQL is not installed: run `bash scripts/install-test-deps.sh` (Debian's postgresql package), or set PG_BIN to the folder holding initdb and pg_ctl")
  }
  return join(root, versions[0]!, "bin")
}

const asRoot = typeof process.getuid === "function" && process.getuid() === 0

/** Runs a PostgreSQL program, as the `postgres` user when we are root. */
const pg = (program: string, args: ReadonlyArray<string>) => {
  const bin = join(postgresBin(), program)
  const [command, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, [...args]]
  const result = spawnSync(command, argv, { encoding: "utf8" })
  if (result.status !== 0) {
    throw new Error(`${program} ${args.join(" ")} failed (exit ${result.status}): ${(result.stderr || result.stdout || String(result.error)).trim()}`)
  }
  return result.stdout
}

/** As root: gives the folder to the postgres user, who must also be able to reach it. */
const handOver = (dir: string) => {
  if (!asRoot) return
  const uid = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()
  const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()
  chownSync(dir, Number(uid), Number(gid))
  if (spawnSync("runuser", ["-u", "postgres", "--", "test", "-w", dir]).status !== 0) {
    throw new Error(`PostgreSQL runs as the postgres user, who cannot reach ${dir}: choose a folder whose parents others may enter (chmod o+x)`)
  }
}

const urlOf = (port: number) => `postgres://icl@127.0.0.1:${port}/icl`

const dataDir = (dir: string) => join(dir, "data")

/**
 * Creates a database cluster in `dir` (which must not hold one) and starts it on `port`: user `icl` with trust
 * authentication on loopback, database `icl`. `durable: false` turns fsync off (throwaway servers of the tests).
 */
export const initPostgres = (dir: string, port: number, options: { readonly durable?: boolean } = {}): LocalPostgres => {
  mkdirSync(dir, { recursive: true })
  handOver(dir)
  pg("initdb", ["-D", dataDir(dir), "-U", "icl", "--auth=trust", "-E", "UTF8", "--locale=C", ...(options.durable === false ? ["--no-sync"] : [])])
  const server = startPostgres(dir, port, options)
  pg("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "icl", "icl"])
  return server
}

/** Starts the server of an existing folder on `port` and waits until it accepts connections. */
export const startPostgres = (dir: string, port: number, options: { readonly durable?: boolean } = {}): LocalPostgres => {
  const settings = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses=127.0.0.1", ...(options.durable === false ? ["-c fsync=off", "-c synchronous_commit=off"] : [])]
  pg("pg_ctl", ["-D", dataDir(dir), "-o", settings.join(" "), "-l", join(dir, "server.log"), "-w", "-t", "60", "start"])
  return { url: urlOf(port), port, dir }
}

/** Stops the server (fast shutdown: open connections are closed); nothing happens when it is not running. */
export const stopPostgres = (dir: string) => {
  if (!isRunning(dir)) return
  pg("pg_ctl", ["-D", dataDir(dir), "-m", "fast", "-w", "-t", "60", "stop"])
}

/** Whether the server of this folder is running (its postmaster.pid names a live process). */
export const isRunning = (dir: string): boolean => {
  const pidFile = join(dataDir(dir), "postmaster.pid")
  if (!existsSync(pidFile)) return false
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0])
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Whether `dir` holds a database cluster made by initPostgres. */
export const isInitialised = (dir: string): boolean => existsSync(join(dataDir(dir), "PG_VERSION")) && statSync(dataDir(dir)).isDirectory()
