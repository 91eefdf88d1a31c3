/**
 * The CLI's exit codes, one table (the README's "Exit codes" lists the same):
 *
 *   0    every run finished
 *   1    some runs failed (the others finished and the tables were written), or an unexpected error
 *   2    input to fix: the config, the command line, a folder holding another config's results, a run too large for
 *        this machine, a path that is not a sweep or run folder
 *   3    the sweep folder is locked: another live process is running it
 *   130  interrupted (Ctrl-C, SIGTERM): every running run checkpointed; rerun the same command to continue
 */
import { ValidationError } from "@effect/cli"
import { Cause, Option } from "effect"

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  locked: 3,
  interrupted: 130
} as const

/** Errors (by tag) that mean the user must change the input: exit code 2. */
const USAGE_ERRORS: ReadonlySet<string> = new Set(["ConfigError", "SweepDrift", "ResourceLimit", "NotAFolder"])

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" ? error._tag : undefined

/** The exit code of a program that ended with `cause`. */
export const exitCodeOf = (cause: Cause.Cause<unknown>): number => {
  if (Cause.isInterruptedOnly(cause)) return ExitCode.interrupted
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return ExitCode.failed
  const error = failure.value
  if (ValidationError.isValidationError(error)) return ExitCode.usage
  const tag = tagOf(error)
  if (tag === "SweepLocked") return ExitCode.locked
  if (tag !== undefined && USAGE_ERRORS.has(tag)) return ExitCode.usage
  return ExitCode.failed
}
