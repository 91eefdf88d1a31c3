/**
 * Reads and decodes a config file. Every problem is reported at once, each with the path of the field at fault.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either } from "effect"
import { type BaseConfig, type ConfigIssue, cut, formatIssue } from "../domain/ConfigSchema.js"
import { ConfigError } from "../domain/Errors.js"
import { parseJsonText, shapeIssues } from "../domain/JsonInput.js"
import { applyOverrides, parseOverrides, type SweepPlan } from "../domain/Sweep.js"
import { decodeRunConfig, experiments, planSweep } from "./Registry.js"

const firstLine = (error: unknown) => String(error instanceof Error ? error.message : error).split("\n")[0]!

/** Parses JSON text and decodes it; a problem of either kind becomes a ConfigError naming `file`. */
const parseWith =
  <A>(decode: (value: unknown) => Either.Either<A, ReadonlyArray<ConfigIssue>>) =>
  (text: string, file: string): Either.Either<A, ConfigError> => {
    const parsed = parseJsonText(text)
    if ("problem" in parsed) return Either.left(new ConfigError({ reason: "NotJson", file, issues: [parsed.problem] }))
    // A value nested deeper than any config would exhaust the stack of the code that walks it: refused first.
    const shape = shapeIssues(parsed.value)
    if (shape.length > 0) return Either.left(new ConfigError({ reason: "Invalid", file, issues: shape.map(formatIssue) }))
    return decode(parsed.value).pipe(
      Either.mapLeft((issues) => new ConfigError({ reason: "Invalid", file, issues: issues.map(formatIssue) }))
    )
  }

/** Decodes one run's config from its text; `file` names it in errors. */
export const parseConfigText: (text: string, file: string) => Either.Either<BaseConfig, ConfigError> =
  parseWith(decodeRunConfig)

/** What the command line changes in a config file: `--set path=value` (repeatable) and `--out DIR` (output.dir). */
export interface CommandLineOverrides {
  readonly set?: ReadonlyArray<string>
  readonly out?: string
}

/**
 * Expands a config's text (with or without a sweep section) into its runs; `file` names it in errors. Overrides from
 * the command line are applied to the file's value first, decoded and validated with it (a problem they cause says
 * which --set caused it), and recorded in the plan's definition (sweep.json's "set").
 */
export const parseSweepText = (text: string, file: string, overrides: CommandLineOverrides = {}): Either.Either<SweepPlan, ConfigError> => {
  const texts = [...(overrides.set ?? []), ...(overrides.out === undefined ? [] : [`output.dir=${JSON.stringify(overrides.out)}`])]
  if (texts.length === 0) return parseWith(planSweep)(text, file)
  return parseWith((value) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return planSweep(value)
    return Either.flatMap(parseOverrides(experiments, value, texts), (parsed) =>
      planSweep(applyOverrides(value as Record<string, unknown>, parsed)).pipe(
        Either.mapLeft((issues) =>
          issues.map((issue) => {
            const cause = parsed.find((o) => o.path === issue.path || `sweep.axes.${issue.path}` === o.path)
            return cause === undefined ? issue : { ...issue, message: `${issue.message} (from --set ${cut(cause.text, 80)})` }
          })
        ),
        Either.map((plan) =>
          overrides.set === undefined || overrides.set.length === 0 ? plan : { ...plan, definition: { ...plan.definition, set: overrides.set.map((t) => cut(t, 1000)) } }
        )
      )
    )
  })(text, file)
}

/** The largest config file read: a config is a few kilobytes; a sweep listing thousands of cases stays far below. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024

const readConfigFile = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const unreadable = (problem: string) => new ConfigError({ reason: "Unreadable", file, issues: [problem] })
    const info = yield* fs.stat(file).pipe(
      Effect.mapError((error) =>
        unreadable(error._tag === "SystemError" && error.reason === "NotFound" ? "no such file" : firstLine(error.message))
      )
    )
    if (info.type === "Directory") return yield* unreadable("it is a folder, not a file: give the config's JSON file")
    if (info.type === "File" && Number(info.size) > MAX_CONFIG_BYTES) {
      return yield* unreadable(`it holds ${(Number(info.size) / 2 ** 20).toFixed(0)} MB; a config is a JSON file of at most ${MAX_CONFIG_BYTES / 2 ** 20} MB`)
    }
    return yield* fs.readFileString(file).pipe(Effect.mapError((error) => unreadable(firstLine(error.message))))
  })

/** One run's config from a file (a sweep section is refused: use loadSweep). */
export const loadConfig = (file: string) =>
  readConfigFile(file).pipe(
    Effect.flatMap((text) => Either.match(parseConfigText(text, file), { onLeft: Effect.fail, onRight: Effect.succeed }))
  )

/** The runs a config file defines (its sweep, or the single run it describes), with the command line's overrides. */
export const loadSweep = (file: string, overrides: CommandLineOverrides = {}) =>
  readConfigFile(file).pipe(
    Effect.flatMap((text) => Either.match(parseSweepText(text, file, overrides), { onLeft: Effect.fail, onRight: Effect.succeed }))
  )
