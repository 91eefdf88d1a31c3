/**
 * ClusterStore against a real PostgreSQL (a throwaway server): checkpoints rotate as in a run folder, the runners
 * that started a run are kept in order, finished files come back byte for byte and a corrupted one is refused.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Either, Layer } from "effect"
import { DatabaseLive } from "../../../src/services/cluster/ClusterLayers.js"
import { CHECKPOINT, checkpointStep, ClusterStore, isConnectionError, PREVIOUS_CHECKPOINT } from "../../../src/services/cluster/ClusterStore.js"
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
