/**
 * What the cluster keeps about runs in PostgreSQL besides @effect/cluster's own messages and replies: every run's
 * files (its checkpoints while it trains, all its files once it finished), so that no file system is shared between
 * machines, and where each run is (which runner holds it, its step, every runner that started it, its failure).
 *
 *   icl_run_files (run_id, name, content bytea, sha256, updated_at)   primary key (run_id, name)
 *   icl_runs      (run_id, state, runner, runners text[], step, steps, attempts, error, updated_at)
 *
 * Every write is idempotent by run id: a run delivered twice writes the same rows again. Every statement is retried
 * on a lost connection with `databaseRetry` (bounded), so that a restart of PostgreSQL delays a run but fails none.
 */
import { createHash } from "node:crypto"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Option, Schedule } from "effect"

/** A file of a run folder, by name, with its bytes. */
export interface RunFile {
  readonly name: string
  readonly content: Uint8Array
}

/** Where a run stands in the cluster. */
export interface ClusterRun {
  readonly runId: string
  readonly state: "queued" | "running" | "done" | "failed"
  /** The runner that holds (or last held) it, as host:port. */
  readonly runner: string | null
  /** Every runner that started it, in order (a run that moved has more than one). */
  readonly runners: ReadonlyArray<string>
  /** The step of its newest stored checkpoint, and its total. */
  readonly step: number | null
  readonly steps: number | null
  readonly attempts: number
  readonly error: string | null
  readonly updatedAt: Date
}

export const CHECKPOINT = "checkpoint.json"
export const PREVIOUS_CHECKPOINT = "checkpoint.prev.json"
const FINISHED = "summary.json"

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/**
 * Retries a database statement while PostgreSQL is unreachable: exponential from 100 ms, at most 5 s apart, for at
 * most `databaseOutage` in all (a restart takes seconds; an outage longer than this fails the statement).
 */
export const databaseOutage = Duration.minutes(2)
export const databaseRetry = Schedule.exponential("100 millis", 2).pipe(
  Schedule.either(Schedule.spaced("5 seconds")),
  Schedule.upTo(databaseOutage)
)

/**
 * Whether a database failure is the connection's (PostgreSQL down, restarting, or unreachable) rather than the
 * statement's: Node's socket errors (ECONNREFUSED, ECONNRESET, …), SQLSTATE classes 08 (connection exception),
 * 57P01–57P03 (shutting down, starting up) and 53300 (too many connections), and a connection that ended.
 */
export const isConnectionError = (error: unknown): boolean => {
  const visit = (value: unknown, depth: number): boolean => {
    if (depth > 4 || value === null || typeof value !== "object") return false
    const { code, message, cause } = value as { code?: unknown; message?: unknown; cause?: unknown }
    if (typeof code === "string") {
      if (/^E[A-Z]+$/.test(code)) return true
      if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300") return true
    }
    if (typeof message === "string" && /Connection terminated|connection timeout|Failed to acquire connection|timed out/i.test(message)) return true
    return visit(cause, depth + 1)
  }
  return visit(error, 0)
}

/** The debug line logged at each attempt that found PostgreSQL unreachable (and is retried, within the bound). */
export const UNREACHABLE_RETRY = "PostgreSQL unreachable; retrying the statement"

/**
 * Retries an effect while its failure is a lost or refused connection (databaseRetry, bounded: after
 * `databaseOutage` the connection's failure is the effect's). Each such attempt logs UNREACHABLE_RETRY at debug level.
 */
export const whileUnreachable = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(
    Effect.tapError(effect, (error) => (isConnectionError(error) ? Effect.logDebug(UNREACHABLE_RETRY) : Effect.void)),
    { schedule: databaseRetry, while: isConnectionError }
  )

/** Serialises schema creation between processes that start at once (a constant advisory-lock key). */
export const SCHEMA_LOCK = 7_316_002_012

const schema = [
  `CREATE TABLE IF NOT EXISTS icl_run_files (
     run_id TEXT NOT NULL,
     name TEXT NOT NULL,
     content BYTEA NOT NULL,
     sha256 TEXT NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
     PRIMARY KEY (run_id, name))`,
  `CREATE TABLE IF NOT EXISTS icl_runs (
     run_id TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     runner TEXT,
     runners TEXT[] NOT NULL DEFAULT '{}',
     step INTEGER,
     steps INTEGER,
     attempts INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`
]

const toBytes = (value: unknown): Uint8Array => (value instanceof Uint8Array ? value : Buffer.from(String(value)))

export class ClusterStore extends Effect.Service<ClusterStore>()("icl-gd/ClusterStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const retried = <A>(effect: Effect.Effect<A, SqlError>) => whileUnreachable(effect)

    /** Creates the tables when they are missing. */
    const migrate = Effect.forEach(schema, (statement) => sql.unsafe(statement), { discard: true })

    /** A run was handed to a runner: it holds it now (and it is added to the run's runners when it is new there). */
    const started = (runId: string, runner: string, steps: number) =>
      retried(sql`
        INSERT INTO icl_runs (run_id, state, runner, runners, steps, attempts, updated_at)
        VALUES (${runId}, 'running', ${runner}, ARRAY[${runner}]::text[], ${steps}, 1, now())
        ON CONFLICT (run_id) DO UPDATE SET
          state = 'running', runner = EXCLUDED.runner, steps = EXCLUDED.steps, error = NULL,
          attempts = icl_runs.attempts + 1, updated_at = now(),
          runners = CASE WHEN icl_runs.runners[array_length(icl_runs.runners, 1)] = EXCLUDED.runner
                         THEN icl_runs.runners ELSE icl_runs.runners || EXCLUDED.runner END`).pipe(Effect.asVoid)

    /**
     * Stores a new checkpoint of a run: the stored one becomes the previous, as in a run folder (RunFolder's
     * writeCheckpoint), in one transaction.
     */
    const saveCheckpoint = (runId: string, text: string, step: number) => {
      const content = Buffer.from(text)
      return retried(
        sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`DELETE FROM icl_run_files WHERE run_id = ${runId} AND name = ${PREVIOUS_CHECKPOINT}`
            yield* sql`UPDATE icl_run_files SET name = ${PREVIOUS_CHECKPOINT} WHERE run_id = ${runId} AND name = ${CHECKPOINT}`
            yield* sql`INSERT INTO icl_run_files (run_id, name, content, sha256) VALUES (${runId}, ${CHECKPOINT}, ${content}, ${sha256(content)})`
            yield* sql`UPDATE icl_runs SET step = ${step}, updated_at = now() WHERE run_id = ${runId}`
          })
        )
      )
    }

    /** A run's stored checkpoints (newest first), as its folder would hold them. */
    const checkpoints = (runId: string) =>
      retried(sql<{ name: string; content: unknown }>`
        SELECT name, content FROM icl_run_files WHERE run_id = ${runId} AND name IN (${CHECKPOINT}, ${PREVIOUS_CHECKPOINT})`).pipe(
        Effect.map((rows) => rows.map((row): RunFile => ({ name: row.name, content: toBytes(row.content) })))
      )

    /** Stores every file of a finished run and marks it done, in one transaction. */
    const saveFinished = (runId: string, files: ReadonlyArray<RunFile>) =>
      retried(
        sql.withTransaction(
          Effect.gen(function* () {
            for (const file of files) {
              const content = Buffer.from(file.content)
              yield* sql`
                INSERT INTO icl_run_files (run_id, name, content, sha256) VALUES (${runId}, ${file.name}, ${content}, ${sha256(content)})
                ON CONFLICT (run_id, name) DO UPDATE SET content = EXCLUDED.content, sha256 = EXCLUDED.sha256, updated_at = now()`
            }
            yield* sql`UPDATE icl_runs SET state = 'done', error = NULL, updated_at = now() WHERE run_id = ${runId}`
          })
        )
      )

    /** Whether a run's finished files are stored (summary.json is the last file a run writes). */
    const isFinished = (runId: string) =>
      retried(sql<{ n: number }>`SELECT count(*)::int AS n FROM icl_run_files WHERE run_id = ${runId} AND name = ${FINISHED}`).pipe(
        Effect.map((rows) => (rows[0]?.n ?? 0) > 0)
      )

    /** Every stored file of a run, each checked against its stored SHA-256; a mismatch fails. */
    const files = (runId: string) =>
      retried(sql<{ name: string; content: unknown; sha256: string }>`
        SELECT name, content, sha256 FROM icl_run_files WHERE run_id = ${runId} ORDER BY name`).pipe(
        Effect.flatMap((rows) =>
          Effect.forEach(rows, (row) => {
            const content = toBytes(row.content)
            return sha256(content) === row.sha256
              ? Effect.succeed<RunFile>({ name: row.name, content })
              : Effect.fail(new Error(`stored file ${row.name} of run ${runId} does not match its checksum`))
          })
        )
      )

    const failed = (runId: string, reason: string) =>
      retried(sql`UPDATE icl_runs SET state = 'failed', error = ${reason}, updated_at = now() WHERE run_id = ${runId}`).pipe(Effect.asVoid)

    /** Where each of these runs stands (runs the cluster has not started are missing). */
    const runs = (runIds: ReadonlyArray<string>) =>
      retried(sql<{
        run_id: string
        state: ClusterRun["state"]
        runner: string | null
        runners: ReadonlyArray<string>
        step: number | null
        steps: number | null
        attempts: number
        error: string | null
        updated_at: Date
      }>`SELECT * FROM icl_runs WHERE run_id = ANY(${[...runIds]})`).pipe(
        // A cluster that no worker or submitter has used yet has no tables: it holds no runs.
        Effect.catchIf((error) => (error.cause as { code?: unknown } | undefined)?.code === "42P01", () => Effect.succeed([])),
        Effect.map((rows) =>
          rows.map(
            (row): ClusterRun => ({
              runId: row.run_id,
              state: row.state,
              runner: row.runner,
              runners: row.runners,
              step: row.step,
              steps: row.steps,
              attempts: row.attempts,
              error: row.error,
              updatedAt: row.updated_at
            })
          )
        )
      )

    /** The runners alive now (their heartbeat is recent), as host:port. */
    const liveRunners = (withinSeconds: number) =>
      retried(sql<{ address: string }>`
        SELECT address FROM cluster_runners WHERE healthy AND last_heartbeat > now() - make_interval(secs => ${withinSeconds})
        ORDER BY address`).pipe(
        Effect.map((rows) => rows.map((row) => row.address)),
        Effect.orElseSucceed(() => [] as Array<string>)
      )

    /** The runs the live runners train at once, in all (each runner's shard weight is its -j). */
    const liveSlots = (withinSeconds: number) =>
      retried(sql<{ slots: number | null }>`
        SELECT sum((runner::json->>'weight')::int)::int AS slots FROM cluster_runners
        WHERE healthy AND last_heartbeat > now() - make_interval(secs => ${withinSeconds})`).pipe(
        Effect.map((rows) => rows[0]?.slots ?? 0),
        Effect.orElseSucceed(() => 0)
      )

    return { migrate, started, liveSlots, saveCheckpoint, checkpoints, saveFinished, isFinished, files, failed, runs, liveRunners } as const
  })
}) {}

export type ClusterStoreService = ClusterStore

/** The step a checkpoint's text records (every kind's checkpoint has a top-level "step"). */
export const checkpointStep = (text: string): number => {
  const match = /"step":\s*(\d+)/.exec(text.slice(0, 4096))
  return match ? Number(match[1]) : 0
}

export const optionalFile = (files: ReadonlyArray<RunFile>, name: string) => Option.fromNullable(files.find((f) => f.name === name))
