/**
 * A command in a pseudo-terminal, as a person runs it: util-linux `script` gives it a terminal of its own, and keys
 * written to its input are typed there (Ctrl-C is "\x03": the terminal sends SIGINT to the whole foreground process
 * group, pnpm and its children alike).
 */
import { spawn } from "node:child_process"

export interface Terminal {
  /** Everything the terminal showed so far (stdout and stderr of the command, with its control codes). */
  readonly output: () => string
  /** Types keys. */
  readonly type: (keys: string) => void
  /** Resolves with the exit code once the command ended. */
  readonly exited: Promise<number>
  readonly hasExited: () => boolean
  readonly kill: () => void
}

export const CTRL_C = "\x03"

/** Runs a shell command line in a new pseudo-terminal (80×24 is not set: `script` uses its defaults). */
export const inTerminal = (commandLine: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Terminal => {
  const child = spawn("script", ["--quiet", "--return", "--command", commandLine, "/dev/null"], {
    cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true
  })
  let output = ""
  child.stdout.on("data", (data: Buffer) => {
    output += data.toString("utf8")
  })
  child.stderr.on("data", (data: Buffer) => {
    output += data.toString("utf8")
  })
  let ended = false
  const exited = new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => {
      ended = true
      resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15))
    })
  })
  return {
    output: () => output,
    type: (keys) => child.stdin.write(keys),
    exited,
    hasExited: () => ended,
    // The whole process group: script, the shell, pnpm and node.
    kill: () => {
      if (!ended && child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
    }
  }
}

/**
 * Waits until `condition` holds, checking every 20 ms; fails when `alive` says the process it watches has ended first.
 * No time limit of its own: what it waits for is progress, however slow the machine.
 */
export const waitFor = async (condition: () => boolean, what: string, alive: () => boolean = () => true): Promise<void> => {
  while (!condition()) {
    if (!alive()) {
      if (condition()) return
      throw new Error(`the process ended before ${what}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
