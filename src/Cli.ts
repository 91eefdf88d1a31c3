/**
 * The command line. Handlers only call programs.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { loadSweep } from "./programs/LoadConfig.js"
import { makeReport } from "./programs/MakeReport.js"
import { experimentNamed } from "./programs/Registry.js"
import { requireAllDone, runSweep, sweepStatus } from "./programs/Sweep.js"
import { RunStore } from "./services/RunStore.js"

const concurrency = Options.integer("concurrency").pipe(
  Options.withAlias("j"),
  Options.withDescription("runs trained at once (default: the number of cores)"),
  Options.optional
)

// icl-gd run <config.json> [--concurrency N]
const run = Command.make(
  "run",
  { config: Args.text({ name: "config.json" }).pipe(Args.withDescription("experiment config (JSON), with or without a sweep section")), concurrency },
  ({ config, concurrency }) =>
    Effect.gen(function* () {
      const plan = yield* loadSweep(config)
      const { result, markdown } = yield* runSweep(plan, Option.isSome(concurrency) ? { concurrency: concurrency.value } : {})
      if (plan.runs.length === 1 && result.done === 1) {
        const store = yield* RunStore
        const dir = store.join(result.folder, plan.runs[0]!.id)
        const summary = yield* store.readJson(store.join(dir, "summary.json"))
        if (Option.isSome(summary)) {
          const outcome = { runId: plan.runs[0]!.id, dir, reused: result.reused === 1, summary: summary.value }
          yield* Console.log(experimentNamed(plan.kind).resultText(outcome))
        }
      } else {
        yield* Console.log(`${markdown}\nresults in ${result.folder} (results.csv, aggregate.csv, aggregate.md)`)
      }
      if (result.failed.length > 0) {
        yield* Console.error(["failed runs:", ...result.failed.map((f) => `  - ${f.runId}: ${f.reason}`)].join("\n"))
      }
      yield* requireAllDone(result)
    })
).pipe(
  Command.withDescription(
    "Train every run of a config (a sweep of one without a sweep section); rerun the same command to resume after any interruption."
  )
)

// icl-gd status <folder>
const status = Command.make("status", { folder: Args.text({ name: "folder" }).pipe(Args.withDescription("a sweep folder")) }, ({ folder }) =>
  sweepStatus(folder).pipe(Effect.flatMap((text) => Console.log(text)))
).pipe(Command.withDescription("Counts of done, running, failed and pending runs of a sweep, its ETA and its failures."))

// icl-gd report <folder>
const report = Command.make("report", { folder: Args.text({ name: "folder" }).pipe(Args.withDescription("a sweep folder or a run folder")) }, ({ folder }) =>
  makeReport(folder).pipe(
    Effect.flatMap((r) =>
      Console.log(
        [
          `report in ${r.dir}: report.html, report.md and ${r.figures.length} figures (.svg, .png, .vl.json)`,
          ...r.figures.map((f) => `  - ${f.name}`),
          ...r.skipped.map((s) => `  (not drawn: ${s})`)
        ].join("\n")
      )
    )
  )
).pipe(Command.withDescription("Figures, tables and an HTML report from the stored results of a sweep or a run, without retraining."))

const root = Command.make("icl-gd").pipe(Command.withSubcommands([run, status, report]))

export const cli = Command.run(root, { name: "icl-gd", version: "0.1.0" })
