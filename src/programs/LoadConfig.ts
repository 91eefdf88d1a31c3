/**
 * Reads and decodes a config file. Every problem is reported at once, each with the path of the field at fault.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either } from "effect"
import { type BaseConfig, type ConfigIssue, formatIssue } from "../domain/ConfigSchema.js"
import { ConfigError } from "../domain/Errors.js"
import type { SweepPlan } from "../domain/Sweep.js"
import { decodeRunConfig, planSweep } from "./Registry.js"

const firstLine = (error: unknown) => String(error instanceof Error ? error.message : error).split("\n")[0]!

/** Parses JSON text and decodes it; a problem of either kind becomes a ConfigError naming `file`. */
const parseWith =
  <A>(decode: (value: unknown) => Either.Either<A, ReadonlyArray<ConfigIssue>>) =>
  (text: string, file: string): Either.Either<A, ConfigError> => {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      return Either.left(new ConfigError({ reason: "NotJson", file, issues: [firstLine(error)] }))
    }
    return decode(value).pipe(
      Either.mapLeft((issues) => new ConfigError({ reason: "Invalid", file, issues: issues.map(formatIssue) }))
    )
  }

/** Decodes one run's config from its text; `file` names it in errors. */
export const parseConfigText: (text: string, file: string) => Either.Either<BaseConfig, ConfigError> =
  parseWith(decodeRunConfig)

/** Expands a config's text (with or without a sweep section) into its runs; `file` names it in errors. */
export const parseSweepText: (text: string, file: string) => Either.Either<SweepPlan, ConfigError> = parseWith(planSweep)

const readConfigFile = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((error) => new ConfigError({ reason: "Unreadable", file, issues: [firstLine(error)] })))
  })

/** One run's config from a file (a sweep section is refused: use loadSweep). */
export const loadConfig = (file: string) =>
  readConfigFile(file).pipe(
    Effect.flatMap((text) => Either.match(parseConfigText(text, file), { onLeft: Effect.fail, onRight: Effect.succeed }))
  )

/** The runs a config file defines: its sweep, or the single run it describes. */
export const loadSweep = (file: string) =>
  readConfigFile(file).pipe(
    Effect.flatMap((text) => Either.match(parseSweepText(text, file), { onLeft: Effect.fail, onRight: Effect.succeed }))
  )
