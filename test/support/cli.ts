import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const root = join(import.meta.dirname, "..", "..")
/**
 * The CLI as `pnpm start` runs it: the launcher, which runs the bundle of the current sources (vitest's global set-up
 * has built it, test/support/build.ts). By absolute path, so the CLI can run with any working directory.
 */
const cliArgs = (args: ReadonlyArray<string>) => [join(root, "scripts", "start.mjs"), ...args]
const env = { ...process.env, LOG_LEVEL: "INFO" }

export interface CliResult {
  /** The exit code, or null when a signal ended the process. */
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the CLI to its end. Asynchronous on purpose: a synchronous spawn would block the test process's event loop for
 * as long as the CLI runs, and on a busy machine vitest's 60 s RPC timeout ("Timeout calling onTaskUpdate") fires.
 */
export const runCli = (args: ReadonlyArray<string>, cwd: string, extraEnv: Record<string, string> = {}): Promise<CliResult> =>
  runNode(cliArgs(args), cwd, extraEnv)

/** Runs `node <args>` to its end without blocking the event loop (see runCli); `extraEnv` adds to the environment. */
export const runNode = (args: ReadonlyArray<string>, cwd: string, extraEnv: Record<string, string> = {}): Promise<CliResult> =>
  runCommand(process.execPath, args, cwd, extraEnv)

/** Runs `command <args>` (found on the PATH) to its end, as runNode does. */
export const runCommand = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  extraEnv: Record<string, string> = {}
): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.once("error", reject)
    child.once("close", (status, signal) => resolve({ status, signal, stdout, stderr }))
  })

/** Starts the CLI without waiting, its stderr readable; the caller kills it. */
export const startCliPiped = (args: ReadonlyArray<string>, cwd: string) => {
  const child = spawn(process.execPath, cliArgs(args), { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (data: Buffer) => {
    stderr += data.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, exited, stderr: () => stderr }
}

/** Starts the CLI without waiting; the caller kills it. */
export const startCli = (args: ReadonlyArray<string>, cwd: string) =>
  spawn(process.execPath, cliArgs(args), { cwd, env, stdio: "ignore" })

/** A fresh folder holding `config.json`. */
export const withConfig = (config: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-cli-"))
  const file = join(dir, "config.json")
  writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config))
  return { dir, file }
}
