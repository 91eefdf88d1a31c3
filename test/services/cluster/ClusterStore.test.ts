/**
 * ClusterStore against a real PostgreSQL (a throwaway server): checkpoints rotate as in a run folder, the runners
 * that started a run are kept in order, finished files come back byte for byte and a corrupted one is refused.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Either, Fiber, Layer, Logger, LogLevel, TestClock } from "effect"
import { startPostgres, stopPostgres } from "../../../src/services/cluster/LocalPostgres.js"
import { DatabaseLive } from "../../../src/services/cluster/ClusterLayers.js"
import {
  CHECKPOINT,
  checkpointStep,
  ClusterStore,
  databaseOutage,
  isConnectionError,
  PREVIOUS_CHECKPOINT,
  UNREACHABLE_RETRY,
  whileUnreachable
} from "../../../src/services/cluster/ClusterStore.js"
import { createDatabase, psql, startServer } from "../../support/cluster.js"

let server: Awaited<ReturnType<typeof startServer>>
let url: string

beforeAll(async () => {
  server = await startServer()
  url = createDatabase(server, "store")
})
afterAll(() => server?.close())

const withStore = <A, E>(body: (store: ClusterStore) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const store = yield* ClusterStore
    yield* store.migrate
    return yield* body(store)
  }).pipe(Effect.provide(ClusterStore.Default.pipe(Layer.provide(DatabaseLive(url)))))

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8")

describe("ClusterStore (real PostgreSQL)", () => {
  it.live("keeps a run's last two checkpoints as a run folder does, and its step", () =>
    withStore((store) =>
      Effect.gen(function* () {
        yield* store.started("run-a", "h:1", 300)
        yield* store.saveCheckpoint("run-a", "icl-gd-checkpoint v1 x\n{\"step\":100}", 100)
        yield* store.saveCheckpoint("run-a", "icl-gd-checkpoint v1 y\n{\"step\":200}", 200)
        const stored = yield* store.checkpoints("run-a")
        assert.deepStrictEqual(
          Object.fromEntries(stored.map((f) => [f.name, text(f.content)])),
          { [CHECKPOINT]: "icl-gd-checkpoint v1 y\n{\"step\":200}", [PREVIOUS_CHECKPOINT]: "icl-gd-checkpoint v1 x\n{\"step\":100}" }
        )
        const [run] = yield* store.runs(["run-a"])
        assert.strictEqual(run!.step, 200)
        assert.strictEqual(run!.steps, 300)
        assert.strictEqual(checkpointStep("icl-gd-checkpoint v1 y\n{\"step\":200,\"rows\":[]}"), 200)
      })
    )
  )

  it.live("lists every runner that started a run, in order, once per move", () =>
    withStore((store) =>
      Effect.gen(function* () {
        yield* store.started("run-b", "h:1", 10)
        yield* store.started("run-b", "h:2", 10)
        yield* store.started("run-b", "h:2", 10)
        const [run] = yield* store.runs(["run-b", "never-started"])
        assert.deepStrictEqual(run!.runners, ["h:1", "h:2"])
        assert.strictEqual(run!.runner, "h:2")
        assert.strictEqual(run!.attempts, 3)
        assert.strictEqual(run!.state, "running")
      })
    )
  )

  it.live("returns a finished run's files byte for byte, and refuses one whose bytes no longer match their checksum", () =>
    withStore((store) =>
      Effect.gen(function* () {
        const binary = Uint8Array.from([0, 255, 10, 13, 0x80, 0x7f])
        yield* store.started("run-c", "h:1", 10)
        assert.isFalse(yield* store.isFinished("run-c"))
        yield* store.saveFinished("run-c", [
          { name: "summary.json", content: Buffer.from('{"loss":0.25}\n') },
          { name: "weights.bin", content: binary }
        ])
        assert.isTrue(yield* store.isFinished("run-c"))
        const files = yield* store.files("run-c")
        assert.deepStrictEqual(files.map((f) => f.name), ["summary.json", "weights.bin"])
        assert.deepStrictEqual([...files[1]!.content], [...binary])
        const [run] = yield* store.runs(["run-c"])
        assert.strictEqual(run!.state, "done")

        psql(url, "UPDATE icl_run_files SET content = 'altered'::bytea WHERE run_id = 'run-c' AND name = 'weights.bin'")
        const corrupt = yield* Effect.either(store.files("run-c"))
        assert.isTrue(Either.isLeft(corrupt))
        assert.include(Either.isLeft(corrupt) ? corrupt.left.message : "", "stored file weights.bin of run run-c does not match its checksum")
      })
    )
  )

  it.live("a statement sent while PostgreSQL is down waits for it (retried) and succeeds once it is back", () => {
    const retries: Array<string> = []
    const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void retries.push(String(message))))
    return withStore((store) =>
      Effect.gen(function* () {
        yield* store.started("run-d", "h:1", 10)
        stopPostgres(server.dir)
        const statement = yield* Effect.fork(store.started("run-d", "h:2", 10))
        // Observed, not timed: the statement has found the server down twice and goes on trying.
        while (retries.filter((m) => m.includes(UNREACHABLE_RETRY)).length < 2) {
          assert.isNull(statement.unsafePoll(), "the statement must not end while the server is down")
          yield* Effect.sleep("20 millis")
        }
        startPostgres(server.dir, server.port, { durable: false })
        yield* Fiber.join(statement)
        const [run] = yield* store.runs(["run-d"])
        assert.deepStrictEqual(run!.runners, ["h:1", "h:2"])
      })
    ).pipe(Effect.provide(capture), Logger.withMinimumLogLevel(LogLevel.Debug))
  })
})

describe("whileUnreachable", () => {
  const refused = new SqlError({ cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), message: "Failed to connect" })
  it.effect("retries a lost connection with back-off for at most databaseOutage, then fails with it; a bad statement fails at once", () =>
    Effect.gen(function* () {
      let attempts = 0
      const down = whileUnreachable(Effect.suspend(() => ((attempts += 1), Effect.fail(refused))))
      const fiber = yield* Effect.fork(down)
      // Just short of the bound: still retrying, about every 5 s at most (exponential from 100 ms).
      yield* TestClock.adjust(Duration.subtract(databaseOutage, Duration.seconds(6)))
      assert.isNull(fiber.unsafePoll())
      assert.isAtLeast(attempts, 20)
      yield* TestClock.adjust(Duration.seconds(12))
      const exit = fiber.unsafePoll()
      assert.isNotNull(exit, "after databaseOutage the retries stop")
      assert.isTrue(exit!._tag === "Failure", "after databaseOutage the lost connection is the statement's failure")
      const counted = attempts
      yield* TestClock.adjust(Duration.minutes(10))
      assert.strictEqual(attempts, counted, "no attempt after the bound")

      let badAttempts = 0
      const bad = new SqlError({ cause: Object.assign(new Error("syntax error"), { code: "42601" }), message: "Failed to execute statement" })
      const badFiber = yield* Effect.fork(whileUnreachable(Effect.suspend(() => ((badAttempts += 1), Effect.fail(bad)))))
      yield* TestClock.adjust(Duration.seconds(10))
      assert.strictEqual(badFiber.unsafePoll()?._tag, "Failure", "a bad statement is not retried")
      assert.strictEqual(badAttempts, 1)
    })
  )
})

describe("isConnectionError", () => {
  const sqlError = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })
  it("retries a refused or lost connection and a server shutting down, not a bad statement", () => {
    assert.isTrue(isConnectionError(sqlError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))))
    assert.isTrue(isConnectionError(sqlError(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }))))
    assert.isTrue(isConnectionError(sqlError(new Error("Connection terminated unexpectedly"))))
    assert.isFalse(isConnectionError(sqlError(Object.assign(new Error('relation "icl_runs" does not exist'), { code: "42P01" }))))
    assert.isFalse(isConnectionError(sqlError(Object.assign(new Error("duplicate key value"), { code: "23505" }))))
  })
})
