/**
 * The command line. Handlers only call programs.
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { loadConfig } from "./programs/LoadConfig.js"
import { formatRunResult } from "./programs/Report.js"
import { trainRun } from "./programs/TrainRun.js"

// icl-gd run <config.json>
const run = Command.make("run", { config: Args.text({ name: "config.json" }).pipe(Args.withDescription("experiment config (JSON)")) }, ({ config }) =>
  Effect.gen(function* () {
    const resolved = yield* loadConfig(config)
    const result = yield* trainRun(resolved)
    yield* Console.log(formatRunResult(result))
  })
).pipe(Command.withDescription("Train a model on in-context classification and compare it with its GD reference; rerun to reuse finished results."))

const root = Command.make("icl-gd").pipe(Command.withSubcommands([run]))

export const cli = Command.run(root, { name: "icl-gd", version: "0.1.0" })
