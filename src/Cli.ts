/**
 * The command line. Handlers only call programs.
 */
import { availableParallelism, hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ClusterPlacementLive } from "./programs/cluster/ClusterPlacement.js"
import { sweepClusterStatus } from "./programs/cluster/ClusterStatus.js"
import { runWorker } from "./programs/cluster/Worker.js"
import { urlProblem } from "./services/cluster/ClusterLayers.js"
import { freePortFrom } from "./services/cluster/Ports.js"
import { loadSweep } from "./programs/LoadConfig.js"
import { makeReport } from "./programs/MakeReport.js"
import { checkMemory } from "./programs/Resources.js"
import { experimentNamed } from "./programs/Registry.js"
import { requireAllDone, runSweep, sweepStatus } from "./programs/Sweep.js"
import { RunStore } from "./services/RunStore.js"

const concurrency = Options.integer("concurrency").pipe(
  Options.withAlias("j"),
  Options.withDescription("runs trained at once, at least 1 (default: the number of cores)"),
  Options.mapEffect((n) =>
    n >= 1 ? Effect.succeed(n) : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--concurrency (-j): expected a positive integer, got ${n}`)))
  ),
  Options.optional
)

/** --cluster <postgres url>: a PostgreSQL URL, checked before anything connects. */
const clusterUrl = Options.text("cluster").pipe(
  Options.withDescription("the cluster's PostgreSQL URL, e.g. postgres://icl@db-host:5432/icl"),
  Options.mapEffect((url) =>
    Option.match(urlProblem(url), {
      onNone: () => Effect.succeed(url),
      onSome: (problem) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--cluster: ${problem}`)))
    })
  )
)

/** Where the runs execute: this machine by default; with --cluster, the cluster's workers. */
const placed = (cluster: Option.Option<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Option.isSome(cluster) ? Effect.provide(effect, ClusterPlacementLive(cluster.value)) : effect

// icl-gd run <config.json> [--concurrency N] [--cluster URL]
const run = Command.make(
  "run",
  {
    config: Args.text({ name: "config.json" }).pipe(Args.withDescription("experiment config (JSON), with or without a sweep section")),
    concurrency,
    set: Options.text("set").pipe(
      Options.withDescription("path=value: set a config field (repeatable; the value is JSON, or a string), e.g. --set task.n=50 --set model.attention=linear"),
      Options.repeated
    ),
    out: Options.text("out").pipe(Options.withDescription("the folder the sweep's folder goes in (the config's output.dir)"), Options.optional),
    cluster: clusterUrl.pipe(
      Options.withDescription("train on the workers of the cluster at this PostgreSQL URL instead of this machine (see `worker`)"),
      Options.optional
    )
  },
  ({ config, concurrency, set, out, cluster }) =>
    Effect.gen(function* () {
      const plan = yield* loadSweep(config, { set, ...(Option.isSome(out) ? { out: out.value } : {}) })
      // What this machine cannot hold is refused before anything is written (the cluster's workers judge their own).
      if (Option.isNone(cluster)) yield* checkMemory(plan, Option.getOrUndefined(concurrency))
      if (Option.isSome(cluster) && Option.isSome(concurrency)) {
        yield* Effect.logWarning("-j is ignored with --cluster: each worker's own -j says how many runs it trains at once")
      }
      const { result, markdown } = yield* runSweep(plan, Option.isSome(concurrency) ? { concurrency: concurrency.value } : {}).pipe(placed(cluster))
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

// icl-gd status <folder> [--cluster URL]
const status = Command.make(
  "status",
  {
    folder: Args.text({ name: "folder" }).pipe(Args.withDescription("a sweep folder or one of its run folders")),
    cluster: clusterUrl.pipe(Options.withDescription("also show what the cluster at this PostgreSQL URL knows: runners, who holds which run, moves"), Options.optional)
  },
  ({ folder, cluster }) =>
    (Option.isSome(cluster) ? sweepClusterStatus(folder, cluster.value) : sweepStatus(folder)).pipe(Effect.flatMap((text) => Console.log(text)))
).pipe(
  Command.withDescription(
    "Counts of done, running, failed, pending and damaged runs of a sweep, its ETA and its failures, or one run's state; with --cluster, where its runs are."
  )
)

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

// icl-gd worker --cluster <url> [-j N] [--host H] [--port P] [--work-dir D]
const worker = Command.make(
  "worker",
  {
    cluster: clusterUrl,
    concurrency,
    host: Options.text("host").pipe(
      Options.withDescription("the address other machines reach this worker at (default: this machine's host name)"),
      Options.withDefault(hostname())
    ),
    port: Options.integer("port").pipe(Options.withDescription("the port this worker listens on (default: the first free one from 34431)"), Options.optional),
    workDir: Options.text("work-dir").pipe(
      Options.withDescription("where runs keep their working files while they train (default: a folder in the system's temporary folder)"),
      Options.optional
    )
  },
  ({ cluster, concurrency, host, port, workDir }) =>
    Effect.gen(function* () {
      const chosenPort = Option.isSome(port) ? port.value : yield* Effect.promise(() => freePortFrom(34431))
      yield* runWorker({
        url: cluster,
        host,
        port: chosenPort,
        concurrency: Option.getOrElse(concurrency, () => availableParallelism()),
        workDir: Option.getOrElse(workDir, () => join(tmpdir(), `icl-gd-worker-${chosenPort}`))
      })
    })
).pipe(
  Command.withDescription(
    "Join a cluster as a runner: train the runs that land on this worker's shards, up to -j at once, until stopped (Ctrl-C, SIGTERM); its runs then move to the other workers."
  )
)

const root = Command.make("pnpm start").pipe(Command.withSubcommands([run, status, report, worker]))

/** Every help page ends with the commands as a user types them (the usage lines above name the command alone). */
const footer = HelpDoc.blocks([
  HelpDoc.h1("EXAMPLES"),
  HelpDoc.p("pnpm start run examples/softmax-main.json          train (rerun the same command to resume)"),
  HelpDoc.p("pnpm start run my-sweep.json -j 2                  two runs at a time"),
  HelpDoc.p("pnpm start status runs/softmax-seeds               a sweep's progress, ETA and failures"),
  HelpDoc.p("pnpm start report runs/softmax-seeds               figures and tables of the finished runs"),
  HelpDoc.p("Exit codes: 0 done, 1 some runs failed, 2 input to fix, 3 folder in use by another run, 130 interrupted.")
])

export const cli = Command.run(root, { name: "icl-gd", version: "0.1.0", footer })
