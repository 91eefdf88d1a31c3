import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import type { Worker } from "node:worker_threads"
import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { NodeContext, NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, HashMap, Layer, Logger, Option, TestClock } from "effect"
import { planSweep } from "../../src/programs/Registry.js"
import { runSweep, sweepStatus } from "../../src/programs/Sweep.js"
import { GdReference } from "../../src/services/classification/GdReference.js"
import { MetricsCollector } from "../../src/services/classification/MetricsCollector.js"
import { ModelTrainer } from "../../src/services/classification/ModelTrainer.js"
import { RegressionReferences } from "../../src/services/regression/References.js"
import { RegressionTrainer } from "../../src/services/regression/Trainer.js"
import { RunStore } from "../../src/services/RunStore.js"
import { TaskSampler } from "../../src/services/classification/TaskSampler.js"
import { QuietConsole, QuietServicesLive } from "../helpers.js"
import { runCli, startCli, startCliPiped, withConfig } from "../support/cli.js"
import { waitFor } from "../support/pty.js"
import { assertSameSweep } from "../support/sweepFolders.js"

const small = {
  task: { n: 16 },
  training: { steps: 600, batchSize: 32 },
  evaluation: { every: 60, logSpacedPoints: 2, size: 150 },
  references: { gridSize: 150, scanSize: 60, cSigma: { min: 0.1, max: 100, count: 7 }, scale: { min: 0.01, max: 100, count: 5 } },
  runtime: { checkpointEvery: 50 },
  output: { dir: "out", progress: false }
}


describe("sweep expansion", () => {
  it("expands axes × seeds into runs with distinct ids, and reports bad axes with their paths", () => {
    const plan = planSweep({ name: "x", sweep: { axes: { "task.n": [10, 20], "model.attention": ["linear", "softmax"] }, seeds: [0, 1, 2] } })
    assert.isTrue(Either.isRight(plan))
    const runs = Either.getOrThrow(plan).runs
    assert.strictEqual(runs.length, 12)
    assert.strictEqual(new Set(runs.map((r) => r.id)).size, 12)
    assert.deepStrictEqual(runs[0]!.axes, { "task.n": 10, "model.attention": "linear" })
    assert.strictEqual(runs[0]!.config.task.n, 10)
    const bad = planSweep({ sweep: { axes: { "task.nn": [1], "task.n": [10, -5], "output.dir": ["a"] } } })
    assert.isTrue(Either.isLeft(bad))
    const messages = Either.isLeft(bad) ? bad.left.map((i) => `${i.path}: ${i.message}`) : []
    assert.include(messages, "sweep.axes.task.nn: no such config field")
    assert.include(messages, "sweep.axes.output.dir: this field does not change results and cannot be an axis")
    // The bad value of a valid axis is reported with the others, naming the run it makes.
    assert.include(messages, "task.n: expected a positive integer, got -5 (in the run with task.n = -5)")
    assert.strictEqual(messages.length, 3, messages.join("\n"))
  })
})

describe("examples", () => {
  it("every example config (and its quick variant) is valid and expands to its runs", () => {
    const folder = join(import.meta.dirname, "..", "..", "examples")
    const files = [
      ...readdirSync(folder).filter((f) => f.endsWith(".json")),
      ...readdirSync(join(folder, "quick")).map((f) => join("quick", f))
    ]
    assert.isAtLeast(files.length, 6)
    for (const file of files) {
      const plan = planSweep(JSON.parse(readFileSync(join(folder, file), "utf8")))
      assert.isTrue(Either.isRight(plan), `${file}: ${Either.isLeft(plan) ? JSON.stringify(plan.left) : ""}`)
    }
    const figures = Either.getOrThrow(planSweep(JSON.parse(readFileSync(join(folder, "figures.json"), "utf8"))))
    assert.strictEqual(figures.runs.length, 3 * 4 * 4)
  })
})

describe("CLI: sweeps", () => {
  it("a sweep killed with SIGKILL at 5 moments (after observed progress) and resumed each time ends byte-identical to an uninterrupted one", async () => {
    const config = {
      name: "sweep",
      ...small,
      sweep: { axes: { "model.attention": ["linear", "softmax"], "task.n": [12, 16] }, seeds: [0, 1, 2] }
    }
    const reference = withConfig(config)
    const started = performance.now()
    const uninterrupted = await runCli(["run", reference.file, "--concurrency", "2"], reference.dir)
    assert.strictEqual(uninterrupted.status, 0, uninterrupted.stderr)
    // The only limit on waiting below comes from this machine's measured speed: a round that sees no progress for twenty
    // times as long as the whole uninterrupted sweep took has stalled.
    const stallLimitMs = 20 * (performance.now() - started)

    const interrupted = withConfig(config)
    const folder = join(interrupted.dir, "out", "sweep")
    /** What the sweep has written so far: finished runs and checkpoint times; it changes whenever a run progresses. */
    const progress = () =>
      existsSync(folder)
        ? readdirSync(folder)
            .filter((f) => f.startsWith("sweep-"))
            // One stat call per file: the running sweep renames checkpoint.json away between any two calls.
            .map((run) => ["summary.json", "checkpoint.json"].map((f) => statSync(join(folder, run, f), { throwIfNoEntry: false })?.mtimeMs ?? 0).join(":"))
            .join("|")
        : ""
    // Each round kills the CLI after it has made a given number of observed steps of progress (checkpoints or finished
    // runs; fixed counts, so the moments vary from round to round and the test is reproducible on any machine's speed).
    // A round whose sweep ends first kills nothing.
    const progressBeforeKill = [1, 3, 2, 4, 1]
    let kills = 0
    let statusChecked = false
    for (const steps of progressBeforeKill) {
      const child = startCli(["run", interrupted.file, "--concurrency", "2"], interrupted.dir)
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      let ended = false
      void exited.then(() => {
        ended = true
      })
      for (let seen = 0; seen < steps && !ended; seen++) {
        const before = progress()
        const since = performance.now()
        while (!ended && progress() === before) {
          if (performance.now() - since > stallLimitMs) {
            child.kill("SIGKILL")
            assert.fail(`no progress for ${Math.round(stallLimitMs / 1000)} s (twenty times the uninterrupted sweep)`)
          }
          await new Promise((r) => setTimeout(r, 5))
        }
      }
      // Once, while the sweep runs: status names its process and counts the runs in progress (read in this process,
      // in milliseconds, so that the sweep is still running when the answer comes).
      let checkStatus = false
      if (!statusChecked && !ended) {
        const during = await Effect.runPromise(sweepStatus(folder).pipe(Effect.provide(RunStore.Default)))
        if (!ended) {
          assert.include(during, `pid ${child.pid}`, during)
          assert.isAtLeast(Number(/(\d+) running/.exec(during)?.[1]), 1, during)
          statusChecked = checkStatus = true
        }
      }
      if (!ended) {
        child.kill("SIGKILL")
        kills++
      }
      await exited
      if (checkStatus) {
        // Killed: nothing runs any more, whatever the manifest last said (the CLI, as a person asks).
        const after = await runCli(["status", folder], interrupted.dir)
        assert.include(after.stdout, "not running", after.stdout)
        assert.include(after.stdout, ", 0 running,", after.stdout)
      }
    }
    assert.isTrue(statusChecked, "status was asked while the sweep ran")
    assert.isAtLeast(kills, 4, "the sweep must actually be interrupted")
    console.info(`SIGKILL test: ${kills} kills of a 12-run sweep, then resumed to completion`)
    const resumed = await runCli(["run", interrupted.file, "--concurrency", "2"], interrupted.dir)
    assert.strictEqual(resumed.status, 0, resumed.stderr)
    const runs = assertSameSweep(join(reference.dir, "out", "sweep"), join(interrupted.dir, "out", "sweep"), "sweep")
    assert.strictEqual(runs, 12)
    const status = await runCli(["status", join(interrupted.dir, "out", "sweep")], interrupted.dir)
    assert.include(status.stdout, "12 done, 0 running, 0 failed, 0 pending")
  }, 900_000)

  it("refuses a changed config in the same folder, saying what changed", async () => {
    const { dir, file } = withConfig({ name: "drift", ...small, training: { steps: 20, batchSize: 16 } })
    assert.strictEqual((await runCli(["run", file], dir)).status, 0)
    const changed = withConfig({ name: "drift", ...small, training: { steps: 30, batchSize: 16 } })
    const again = await runCli(["run", changed.file], dir)
    assert.strictEqual(again.status, 2)
    assert.include(again.stderr, "holds results of a different config")
    assert.include(again.stderr, "training.steps: 20 → 30")
    assert.include(again.stderr, 'give this config another "name"')
  })

  it("a superset of a finished sweep (more seeds, more axis values) extends it in place, reuses every finished run, and ends as a sweep planned whole", async () => {
    const quick = { ...small, training: { steps: 40, batchSize: 16 }, evaluation: { every: 20, logSpacedPoints: 0, size: 60 } }
    // The final config: its axis values in another order than the first one's, and a base field that the axis overrides.
    const final = { name: "sweep", ...quick, task: { n: 99 }, sweep: { axes: { "task.n": [16, 12] }, seeds: [1, 0] } }
    const whole = withConfig(final)
    assert.strictEqual((await runCli(["run", whole.file], whole.dir)).status, 0)

    const grown = withConfig({ name: "sweep", ...quick, sweep: { axes: { "task.n": [12] }, seeds: [0] } })
    assert.strictEqual((await runCli(["run", grown.file], grown.dir)).status, 0)
    const folder = join(grown.dir, "out", "sweep")
    const first = readdirSync(folder).filter((f) => f.startsWith("sweep-"))
    assert.strictEqual(first.length, 1)
    const finishedAt = statSync(join(folder, first[0]!, "summary.json")).mtimeMs
    writeFileSync(grown.file, JSON.stringify(final))
    const extended = await runCli(["run", grown.file], grown.dir)
    assert.strictEqual(extended.status, 0, extended.stderr)
    assert.include(extended.stderr, `extending the sweep in ${folder} with 3 new runs`)
    assert.strictEqual(statSync(join(folder, first[0]!, "summary.json")).mtimeMs, finishedAt, "the finished run is reused, not retrained")
    assert.strictEqual(assertSameSweep(join(whole.dir, "out", "sweep"), folder, "sweep"), 4)
    const again = await runCli(["run", grown.file], grown.dir)
    assert.strictEqual(again.status, 0, again.stderr)
    assert.notInclude(again.stderr, "extending")
  })

  it("one writer per folder: a second run refuses at once (exit 3) naming the live process; status tells running from interrupted; a killed holder's lock is taken over", async () => {
    const { dir, file } = withConfig({ name: "locked", ...small, training: { steps: 10_000_000, batchSize: 16 } })
    const folder = join(dir, "out", "locked")
    const holder = startCli(["run", file], dir)
    const exited = new Promise<void>((resolve) => holder.once("exit", () => resolve()))
    const training = () =>
      existsSync(join(folder, "lock.json")) && readdirSync(folder).some((f) => f.startsWith("locked-") && existsSync(join(folder, f, "metrics.jsonl")))
    await waitFor(training, "the first run trains", () => holder.exitCode === null)

    const second = await runCli(["run", file], dir)
    assert.strictEqual(second.status, 3, second.stderr)
    assert.include(second.stderr, `is in use by another icl-gd process: pid ${holder.pid} on ${hostname()}, since 20`)
    assert.include(second.stderr, "rerun this command to continue")
    assert.notInclude(second.stderr, "INFO  sweep", "the second process wrote nothing")
    const running = await runCli(["status", folder], dir)
    assert.include(running.stdout, `running (pid ${holder.pid} on ${hostname()}, since 20`)
    assert.include(running.stdout, "1 running")

    holder.kill("SIGKILL")
    await exited
    const interrupted = await runCli(["status", folder], dir)
    assert.include(interrupted.stdout, "not running, interrupted (rerun its command to continue)")
    assert.include(interrupted.stdout, "0 running, 0 failed, 0 pending, 1 interrupted")
    // The manifest the killed process left is corrected by that status: the run is pending again.
    assert.include(interrupted.stdout, "manifest  corrected: the 1 run a stopped process left as running is pending again")
    assert.deepStrictEqual(JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")).runs.map((r: { state: string }) => r.state), ["pending"])
    const again = await runCli(["status", folder], dir)
    assert.include(again.stdout, "not running")
    assert.include(again.stdout, "0 running, 0 failed, 1 pending")

    // The next run takes the dead holder's lock over, says so, and trains; Ctrl-C (SIGINT) ends it with 130.
    const next = startCliPiped(["run", file], dir)
    await waitFor(() => next.stderr().includes("resuming softmax attention from step"), "the next run resumes", () => next.child.exitCode === null)
    assert.include(next.stderr(), `took over the lock of ${folder} left by pid ${holder.pid} on ${hostname()}`)
    next.child.kill("SIGINT")
    assert.strictEqual(await next.exited, 130, next.stderr())
    assert.match(next.stderr(), /interrupted at step \d+; rerun the same command to continue/)
    assert.isFalse(existsSync(join(folder, ".lock")))
  })

  it("a diverging run is marked failed with its reason while the others finish; the end lists it", async () => {
    const { dir, file } = withConfig({
      name: "diverge",
      ...small,
      model: { attention: "exp" },
      training: { steps: 60, batchSize: 16 },
      sweep: { axes: { "training.learningRate": [0.01, 1e6] } }
    })
    const result = await runCli(["run", file, "--concurrency", "2"], dir)
    assert.strictEqual(result.status, 1)
    assert.match(result.stderr, /failed runs:\n {2}- diverge-[0-9a-f]{12}: training diverged at step \d+/)
    const csv = readFileSync(join(dir, "out", "diverge", "results.csv"), "utf8")
    assert.strictEqual(csv.match(/,done,/g)?.length, 1)
    assert.strictEqual(csv.match(/,failed,/g)?.length, 1)
    const status = await runCli(["status", join(dir, "out", "diverge")], dir)
    assert.include(status.stdout, "1 done, 0 running, 1 failed, 0 pending")
    assert.match(status.stdout, /training diverged at step/)
    // A deterministic failure is not retried on a rerun either.
    const rerun = await runCli(["run", file, "--concurrency", "2"], dir)
    assert.strictEqual(rerun.status, 1)
    assert.notInclude(rerun.stderr, "retrying")
  })
})

describe("concurrency", () => {
  it.live("the same sweep at -j 1 and -j 2 is byte-identical, also when the worker threads die mid-run and the runs are retried", () =>
    Effect.gen(function* () {
      // Three sweeps of 4 runs (2 attentions × 2 seeds) into one output folder (config.json records it), each moved
      // aside when done.
      const { dir } = withConfig({})
      const plan = Either.getOrThrow(
        planSweep({ name: "sweep", ...small, output: { dir, progress: false }, sweep: { axes: { "model.attention": ["linear", "softmax"] }, seeds: [0, 1] } })
      )
      const folder = join(dir, "sweep")
      yield* runSweep(plan, { concurrency: 1 })
      renameSync(folder, join(dir, "serial"))
      yield* runSweep(plan, { concurrency: 2 })
      renameSync(folder, join(dir, "parallel"))
      // -j 1 runs in this process with the run's own sampler thread; -j 2 on a pool whose runs sample inline.
      assert.strictEqual(assertSameSweep(join(dir, "serial"), join(dir, "parallel"), "sweep", { sameRuntime: false }), 4)

      // Kill both worker threads as soon as a run has checkpointed (observed on disk), whatever the machine's speed.
      const workers: Array<Worker> = []
      const warnings: Array<string> = []
      const collect = Logger.replace(Logger.defaultLogger, Logger.make(({ logLevel, message, annotations }) => {
        if (logLevel._tag === "Warning") warnings.push(`${String(message)} ${String(HashMap.get(annotations, "reason").pipe(Option.getOrElse(() => "")))}`)
      }))
      const fiber = yield* Effect.fork(
        runSweep(plan, { concurrency: 2, retries: 3, retryBase: "50 millis", onWorkerStart: (worker) => workers.push(worker) }).pipe(Effect.provide(collect))
      )
      const checkpointed = () => existsSync(folder) && readdirSync(folder).some((run) => existsSync(join(folder, run, "checkpoint.json")))
      while (!checkpointed()) yield* Effect.sleep("5 millis")
      const killed = workers.slice()
      assert.strictEqual(killed.length, 2)
      yield* Effect.promise(() => Promise.all(killed.map((worker) => worker.terminate())))
      const { result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.done, 4)
      assert.deepStrictEqual(result.failed, [])
      assert.isAbove(workers.length, 2, "dead threads were replaced")
      const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8"))
      assert.isAtLeast(Math.max(...manifest.runs.map((r: { attempts: number }) => r.attempts)), 2, "a killed run was retried")
      assert.isTrue(warnings.some((w) => w.includes("retrying") && w.includes("worker exited with code")), warnings.join("\n"))
      assertSameSweep(join(dir, "parallel"), folder, "sweep")
    }).pipe(Effect.provide(QuietServicesLive))
  )
})

describe("status", () => {
  it.live("the ETA is the mean wall time of the finished runs times the runs left (a partial run counting its steps left), divided by the concurrency", () =>
    Effect.gen(function* () {
      const { dir } = withConfig({})
      const plan = Either.getOrThrow(
        planSweep({
          name: "eta",
          ...small,
          training: { steps: 20, batchSize: 16 },
          runtime: { checkpointEvery: 10 },
          output: { dir, progress: false },
          sweep: { seeds: [0, 1, 2, 3] }
        })
      )
      const { result } = yield* runSweep(plan, { concurrency: 1 })
      // Two runs finished in 100 s and 300 s; two are left, one with no checkpoint, one at step 10 of 20; two at a time.
      const folder = result.folder
      const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8"))
      manifest.concurrency = 2
      manifest.runs.forEach((run: { id: string; state: string }, i: number) => {
        const runDir = join(folder, run.id)
        if (i < 2) {
          const record = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8"))
          writeFileSync(join(runDir, "run.json"), JSON.stringify({ ...record, wallSeconds: i === 0 ? 100 : 300 }))
        } else {
          run.state = "pending"
          rmSync(join(runDir, "summary.json"))
          rmSync(join(runDir, "checkpoint.json"))
          if (i === 2) renameSync(join(runDir, "checkpoint.prev.json"), join(runDir, "checkpoint.json"))
          else rmSync(join(runDir, "checkpoint.prev.json"))
        }
      })
      writeFileSync(join(folder, "manifest.json"), JSON.stringify(manifest))
      const text = yield* sweepStatus(folder)
      assert.include(text, "4: 2 done, 0 running, 0 failed, 2 pending")
      assert.include(text, `partial   ${manifest.runs[2].id} at step 10 of 20`)
      // mean 200 s × (½ + 1) runs left / 2 at a time = 150 s.
      assert.include(text, "~2m30s (mean run 3m20s, 2 at a time, partial runs counted by their steps left)")
    }).pipe(Effect.provide(QuietServicesLive))
  )
})

describe("retries", () => {
  /** The platform file system, with the first `failures` writes of metrics.jsonl failing as an I/O error would. */
  const FlakyFileSystem = (failures: number) =>
    Layer.effect(
      FileSystem.FileSystem,
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        let left = failures
        return {
          ...fs,
          writeFileString: (path: string, data: string, options?: FileSystem.WriteFileStringOptions) =>
            path.includes("metrics.jsonl") && left-- > 0
              ? Effect.fail(new SystemError({ reason: "Unknown", module: "FileSystem", method: "writeFileString", pathOrDescriptor: path, description: "injected fault" }))
              : fs.writeFileString(path, data, options)
        }
      })
    ).pipe(Layer.provide(NodeFileSystem.layer))

  const servicesWith = (fileSystem: Layer.Layer<FileSystem.FileSystem>) =>
    Layer.mergeAll(
      TaskSampler.Default,
      ModelTrainer.Default,
      GdReference.Default,
      MetricsCollector.Default,
      RegressionTrainer.Default,
      RegressionReferences.Default,
      RunStore.DefaultWithoutDependencies.pipe(Layer.provide(Layer.merge(fileSystem, NodePath.layer))),
      NodeContext.layer,
      QuietConsole
    )

  /** Two short runs (seeds 0 and 1) into a fresh folder. */
  const twoRuns = (name: string) => {
    const { dir } = withConfig({})
    const plan = Either.getOrThrow(
      planSweep({ name, ...small, training: { steps: 30, batchSize: 16 }, output: { dir, progress: false }, sweep: { seeds: [0, 1] } })
    )
    return { dir, plan }
  }

  /**
   * Runs `sweep` to its end under the test clock, moving the clock only when the sweep waits on it; returns the
   * sweep's result and every delay it waited (the retry schedule's sleeps are its only ones).
   */
  const withObservedDelays = <A, E>(sweep: Effect.Effect<A, E>) =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(sweep)
      const delays: Array<number> = []
      while (Option.isNone(yield* Fiber.poll(fiber))) {
        const pending = yield* TestClock.sleeps()
        if (Chunk.isNonEmpty(pending)) {
          const wake = Chunk.unsafeHead(pending)
          delays.push(wake - (yield* TestClock.currentTimeMillis))
          yield* TestClock.setTime(wake)
        } else {
          // The sweep is working (real time, real I/O): look again shortly.
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
        }
      }
      return { outcome: yield* Fiber.join(fiber), delays }
    })

  it.effect("transient I/O failures are retried with exponential backoff (1 s, then 2 s) until the run succeeds", () =>
    Effect.gen(function* () {
      const { dir, plan } = twoRuns("flaky")
      const { outcome, delays } = yield* withObservedDelays(
        runSweep(plan, { concurrency: 1, retries: 3, retryBase: "1 second" }).pipe(Effect.provide(servicesWith(FlakyFileSystem(2))))
      )
      assert.deepStrictEqual(delays, [1000, 2000])
      assert.strictEqual(outcome.result.done, 2)
      assert.deepStrictEqual(outcome.result.failed, [])
      const manifest = JSON.parse(readFileSync(join(dir, "flaky", "manifest.json"), "utf8"))
      assert.deepStrictEqual(manifest.runs.map((r: { attempts: number }) => r.attempts), [3, 1])
      assert.isTrue(existsSync(join(dir, "flaky", plan.runs[0]!.id, "summary.json")))
    })
  )

  it.effect("a failure that outlasts the retries marks the run failed after waiting 1 s and 2 s, and the sweep goes on", () =>
    Effect.gen(function* () {
      const { plan } = twoRuns("broken")
      const { outcome, delays } = yield* withObservedDelays(
        runSweep(plan, { concurrency: 1, retries: 2, retryBase: "1 second" }).pipe(Effect.provide(servicesWith(FlakyFileSystem(3))))
      )
      assert.deepStrictEqual(delays, [1000, 2000])
      assert.strictEqual(outcome.result.done, 1)
      assert.strictEqual(outcome.result.failed.length, 1)
      assert.include(outcome.result.failed[0]!.reason, "injected fault")
    })
  )
})
