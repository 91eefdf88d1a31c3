import { spawn, spawnSync } from "node:child_process"
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

export const runCli = (args: ReadonlyArray<string>, cwd: string) =>
  spawnSync(process.execPath, cliArgs(args), { cwd, encoding: "utf8", env })

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
