/**
 * Sweeps on a cluster of real worker processes over a real PostgreSQL (a throwaway server shared by these tests, a
 * database per test): the faults the cluster must survive, each ending byte-identical to the same sweep run locally.
 */
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import { startPostgres, stopPostgres } from "../../../src/services/cluster/LocalPostgres.js"
import { freePort } from "../../../src/services/cluster/Ports.js"
import { runCli, withConfig } from "../../support/cli.js"
import { cleanUp, count, createDatabase, psql, startProcess, startServer, startWorkers, stopWorkers, tempConfig, waitFor, type Worker } from "../../support/cluster.js"
import { assertSameSweep } from "../../support/sweepFolders.js"

/** 12 runs of 2,000 small steps, a checkpoint every 50: long enough to be caught mid-run, short enough for CI. */
const config = {
  name: "cl",
  task: { n: 16 },
  training: { steps: 2000, batchSize: 32 },
  evaluation: { every: 200, logSpacedPoints: 2, size: 150 },
  references: { gridSize: 150, scanSize: 60, cSigma: { min: 0.1, max: 100, count: 7 }, scale: { min: 0.01, max: 100, count: 5 } },
  runtime: { checkpointEvery: 50 },
  output: { dir: "out", progress: false },
  sweep: { axes: { "model.attention": ["linear", "softmax"], "task.n": [12, 16] }, seeds: [0, 1, 2] }
}
const RUNS = 12
const STEPS = config.training.steps

let server: Awaited<ReturnType<typeof startServer>>
let reference: string
let referenceDir: string | undefined

beforeAll(async () => {
  server = await startServer()
  // The same sweep on this machine's cores: what every cluster sweep must reproduce byte for byte.
  const local = withConfig(config)
  referenceDir = local.dir
  const result = await runCli(["run", local.file, "--concurrency", "2"], local.dir)
  assert.strictEqual(result.status, 0, result.stderr)
  reference = join(local.dir, "out", "cl")
})

// Nothing outlives a test, passed or failed: its workers and submitter, its folders; then the server.
afterEach(cleanUp)
afterAll(async () => {
  await cleanUp()
  if (referenceDir !== undefined) rmSync(referenceDir, { recursive: true, force: true })
  server?.close()
})

const sweepFolder = (dir: string) => join(dir, "out", "cl")
const logs = (processes: ReadonlyArray<{ readonly output: () => string }>) => () => processes.map((p) => p.output()).join("\n----\n")

/** A database of its own, `count` workers and a submitter on the 12-run sweep: the set-up every fault test shares. */
const startSweep = async (database: string, count: number) => {
  const url = createDatabase(server, database)
  const { dir, file } = tempConfig(config)
  const workers = await startWorkers(url, count, dir)
  const submitter = startProcess(["run", file, "--cluster", url], dir)
  return { url, dir, file, workers, submitter, context: logs([submitter, ...workers]) }
}

/** The first run a worker holds with a checkpoint stored in PostgreSQL and far from its end, and that worker. */
const waitForHeldRun = async (url: string, workers: ReadonlyArray<Worker>, context: () => string) => {
  let held: Array<string> = []
  await waitFor(
    "a run with a stored checkpoint",
    () => (held = psql(url, `SELECT run_id, runner FROM icl_runs WHERE state = 'running' AND step >= 50 AND step <= ${STEPS / 2} LIMIT 1`)[0] ?? []).length > 0,
    context
  )
  const [run, address] = held as [string, string]
  return { run, holder: workers.find((w) => w.address === address)! }
}

describe("cluster sweeps (real PostgreSQL, real worker processes)", () => {
  it("a worker SIGKILLed while it holds a run: its runs move to the live workers, the run resumes from its stored checkpoint, and the sweep ends byte-identical to the local one", async () => {
    const { url, dir, workers, submitter, context } = await startSweep("kill", 3)
    // A run held by a worker, with a checkpoint stored in PostgreSQL and far from its end.
    const { run: heldRun, holder: victim } = await waitForHeldRun(url, workers, context)
    const victimAddress = victim.address
    victim.child.kill("SIGKILL")
    await victim.exited

    assert.strictEqual(await submitter.exited, 0, context())
    assert.strictEqual(assertSameSweep(reference, sweepFolder(dir), "cl"), RUNS)

    // The held run moved to a live worker and resumed from the checkpoint the victim had stored.
    const [runners, attempts] = psql(url, `SELECT array_to_string(runners, ','), attempts FROM icl_runs WHERE run_id = '${heldRun}'`)[0]!
    const path = runners!.split(",")
    assert.strictEqual(path[0], victimAddress)
    assert.isAtLeast(path.length, 2, `run ${heldRun} should have moved: ${runners}`)
    assert.notInclude(path.slice(1), victimAddress)
    assert.isAtLeast(Number(attempts), 2)
    const runJson = JSON.parse(readFileSync(join(sweepFolder(dir), heldRun, "run.json"), "utf8")) as { resumedFromStep: number | null }
    assert.isAtLeast(runJson.resumedFromStep ?? 0, 50, "the moved run resumed from its stored checkpoint, not from scratch")
    const moved = count(url, "SELECT count(*) FROM icl_runs WHERE cardinality(runners) > 1")
    console.info(`cluster SIGKILL test: worker ${victimAddress} killed holding ${heldRun}; ${moved} run(s) moved between runners; ${RUNS} runs byte-identical to the local sweep`)

    const status = await runCli(["status", sweepFolder(dir), "--cluster", url], dir)
    assert.strictEqual(status.status, 0, status.stderr)
    assert.include(status.stdout, `${RUNS} done, 0 running, 0 failed, 0 not started`)
    assert.include(status.stdout, `${heldRun} (${victimAddress} → `)
    await stopWorkers(workers)
  })

  it("a worker stopped (SIGTERM) checkpoints its run at the step it reached and hands it over; the submitter SIGKILLed: the workers go on, rerunning it collects every result without sending a run twice; a run delivered again is answered from its stored files", async () => {
    const { url, dir, file, workers, submitter, context } = await startSweep("submitter", 3)
    // A worker asked to stop while it holds a run far from its end.
    const { run: stoppedRun, holder: stopped } = await waitForHeldRun(url, workers, context)
    const stoppedAddress = stopped.address
    stopped.child.kill("SIGTERM")
    assert.strictEqual(await stopped.exited, 130, stopped.output())
    // The step it stopped at, from the run's log in the stopped worker's own folder.
    const stoppedLog = readFileSync(join(dir, `work-${stoppedAddress.split(":")[1]}`, stoppedRun, "run.log"), "utf8")
    const stoppedAt = Number(/interrupted\D*step (\d+)/.exec(stoppedLog)?.[1])
    assert.isAbove(stoppedAt, 0, stoppedLog)

    await waitFor("two runs done", () => count(url, "SELECT count(*) FROM icl_runs WHERE state = 'done'") >= 2, context)
    submitter.child.kill("SIGKILL")
    await submitter.exited
    const doneAtKill = count(url, "SELECT count(*) FROM icl_runs WHERE state = 'done'")
    assert.isBelow(doneAtKill, RUNS, "the submitter must die mid-sweep")

    // With no submitter, the workers finish every run.
    await waitFor("every run done without the submitter", () => count(url, "SELECT count(*) FROM icl_runs WHERE state = 'done'") === RUNS, context)
    const rerun = await runCli(["run", file, "--cluster", url], dir)
    assert.strictEqual(rerun.status, 0, rerun.stderr)
    assert.strictEqual(assertSameSweep(reference, sweepFolder(dir), "cl"), RUNS)
    assert.strictEqual(count(url, "SELECT count(*) FROM cluster_messages WHERE entity_type = 'Run'"), RUNS, "each run sent once")
    // The stopped run went on elsewhere from the checkpoint written as it stopped.
    const runJson = JSON.parse(readFileSync(join(sweepFolder(dir), stoppedRun, "run.json"), "utf8")) as { resumedFromStep: number | null }
    assert.strictEqual(runJson.resumedFromStep, stoppedAt)
    assert.strictEqual(psql(url, `SELECT array_to_string(runners, ',') FROM icl_runs WHERE run_id = '${stoppedRun}'`)[0]![0]!.split(",")[0], stoppedAddress)
    // A runner leaving reassigns shards over the live runners (Sharding's HashRing.getShards), so a run on
    // a live runner may move too: then it was started once on each runner it was on, never twice on the same one.
    const others = psql(url, `SELECT run_id, attempts, cardinality(runners) FROM icl_runs WHERE run_id <> '${stoppedRun}'`)
    assert.strictEqual(others.length, RUNS - 1)
    for (const [run, attempts, runners] of others) assert.strictEqual(attempts, runners, `${run}: started once on each runner that held it`)
    console.info(
      `cluster submitter test: worker ${stoppedAddress} stopped with ${stoppedRun} at step ${stoppedAt}, resumed elsewhere from there; submitter killed with ${doneAtKill}/${RUNS} runs done; the workers finished the rest; the rerun collected all ${RUNS}`
    )

    // At-least-once delivery: every message delivered again, as after a worker that stored a run's files and died
    // before its reply was stored. Each is answered from the stored files.
    const attemptsBefore = psql(url, "SELECT run_id, attempts FROM icl_runs ORDER BY run_id")
    psql(url, "DELETE FROM cluster_replies; UPDATE cluster_messages SET processed = false, last_reply_id = NULL, last_read = NULL")
    await waitFor("every redelivered run answered", () => count(url, "SELECT count(*) FROM cluster_replies WHERE kind = 0") === RUNS, context)
    assert.strictEqual(count(url, `SELECT count(*) FROM cluster_replies WHERE payload LIKE '%"trained":false%'`), RUNS, "answered without training")
    assert.deepStrictEqual(psql(url, "SELECT run_id, attempts FROM icl_runs ORDER BY run_id"), attemptsBefore, "nothing trained again")
    await stopWorkers(workers)
  })

  it("PostgreSQL stopped and restarted mid-sweep: workers and submitter reconnect and the sweep completes byte-identical", async () => {
    const { url, dir, workers, submitter, context } = await startSweep("restart", 2)
    await waitFor("a stored checkpoint", () => count(url, "SELECT count(*) FROM icl_runs WHERE step >= 50") > 0, context)
    const doneBefore = count(url, "SELECT count(*) FROM icl_runs WHERE state = 'done'")
    stopPostgres(server.dir)
    // The outage is seen by the workers before the server comes back.
    await waitFor("the workers to notice the outage", () => workers.every((w: Worker) => /Could not|unhealthy|not stored/.test(w.output())), context)
    startPostgres(server.dir, server.port, { durable: false })
    assert.strictEqual(await submitter.exited, 0, context())
    assert.isTrue(workers.every((w) => w.alive()), "no worker died of the outage")
    assert.strictEqual(assertSameSweep(reference, sweepFolder(dir), "cl"), RUNS)
    console.info(`cluster PostgreSQL restart test: server stopped with ${doneBefore}/${RUNS} runs done, restarted; all ${RUNS} byte-identical`)
    await stopWorkers(workers)
  })

  it("a wrong or unreachable --cluster URL: a clear error naming the URL, a non-zero exit, nothing written", async () => {
    const port = await freePort()
    const unreachable = `postgres://icl:secret@127.0.0.1:${port}/icl`
    const { dir, file } = tempConfig(config)
    const attempts = [
      startProcess(["worker", "--cluster", unreachable, "--port", String(await freePort())], dir),
      startProcess(["run", file, "--cluster", unreachable], dir),
      startProcess(["run", file, "--cluster", "localhost:5432"], dir)
    ]
    const [worker, submitter, malformed] = await Promise.all(attempts.map((p) => p.exited))
    for (const [code, process] of [[worker, attempts[0]!], [submitter, attempts[1]!]] as const) {
      assert.strictEqual(code, 1, process.output())
      assert.include(process.output(), `cannot reach the cluster's PostgreSQL at postgres://icl:***@127.0.0.1:${port}/icl: connect ECONNREFUSED`)
      assert.notInclude(process.output(), "secret")
      assert.notMatch(process.output(), /\n\s+at /, "no stack trace")
    }
    assert.strictEqual(malformed, 2, attempts[2]!.output())
    assert.include(attempts[2]!.output(), "--cluster: expected a postgres:// URL")
    assert.isFalse(existsSync(join(dir, "out")), "nothing written")
  })
})
