/**
 * The cluster's layers: PostgreSQL through @effect/sql-pg, the schema (ours and @effect/cluster's), and @effect/cluster's
 * sharding with SQL message and runner storage (`NodeClusterSocket`): as a runner that trains runs (`worker`), or as a
 * client only that sends them (`run --cluster`, `status --cluster`).
 *
 * Timings: a runner refreshes its heartbeat and shard locks every 3 s. A runner that dies (SIGKILL, power loss)
 * releases its shard locks with its database connections at once; the others stop routing to it when its heartbeat
 * is 10 s old or when it fails a health ping (every 5 s), and take over its shards and their stored messages.
 */
import { RunnerAddress, ShardingConfig, SqlMessageStorage, SqlRunnerStorage } from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Cause, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { ClusterUnreachable } from "../../domain/Errors.js"
import { ClusterStore, SCHEMA_LOCK } from "./ClusterStore.js"

/** @effect/cluster's settings shared by every process of a cluster (runners and clients must agree on the shards). */
export const clusterTimings = {
  shardsPerGroup: 300,
  shardLockRefreshInterval: "3 seconds",
  shardLockExpiration: "10 seconds",
  entityMessagePollInterval: "2 seconds",
  refreshAssignmentsInterval: "2 seconds",
  runnerHealthCheckInterval: "5 seconds",
  // A runner that stops (SIGTERM, Ctrl-C) or loses a shard interrupts the runs it holds at once: each writes a
  // checkpoint, which is stored, and resumes from it wherever its shard goes.
  entityTerminationTimeout: "10 millis",
  entityMaxIdleTime: "1 minute"
} satisfies Partial<ShardingConfig.ShardingConfig["Type"]>

/**
 * @effect/cluster's shard-lock connection sends its queries without waiting for each other, which pg 8 accepts and
 * flags once as deprecated (on every worker's terminal). The warning is about pg 9; this one is left unprinted.
 */
const QUEUED_QUERY_WARNING = "Calling client.query() when the client is already executing a query"
const emitWarning = process.emitWarning
process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: Array<unknown>) {
  if (String(warning instanceof Error ? warning.message : warning).startsWith(QUEUED_QUERY_WARNING)) return
  return (emitWarning as (...args: Array<unknown>) => void).call(this, warning, ...rest)
} as typeof process.emitWarning

/** The URL with its password hidden, for messages. */
export const redactUrl = (url: string) => url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@")

/** Why a URL is not a PostgreSQL URL, or none when it is one. */
export const urlProblem = (url: string): Option.Option<string> => {
  try {
    const parsed = new URL(url)
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") return Option.some(`expected a postgres:// URL, got ${redactUrl(url)}`)
    if (parsed.hostname === "") return Option.some(`no host in ${redactUrl(url)}`)
    return Option.none()
  } catch {
    return Option.some(`expected a PostgreSQL URL like postgres://user@host:5432/database, got ${JSON.stringify(redactUrl(url))}`)
  }
}

const detailOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { cause?: unknown; message?: unknown }
  const inner = error?.cause as { message?: unknown; code?: unknown } | undefined
  const text = inner?.message ?? error?.message
  return typeof text === "string" && text !== "" ? text : Cause.pretty(cause).split("\n")[0]!
}

/**
 * PostgreSQL at `url` (PgClient and SqlClient). Connecting is tried a few times (about 3 s in all); then it fails with
 * ClusterUnreachable naming the URL and the reason.
 */
export const DatabaseLive = (url: string) =>
  PgClient.layer({ url: Redacted.make(url), applicationName: "icl-gd", connectTimeout: "5 seconds" }).pipe(
    Layer.retry(Schedule.exponential("200 millis", 2).pipe(Schedule.intersect(Schedule.recurs(4)))),
    Layer.catchAllCause((cause) => Layer.fail(new ClusterUnreachable({ url: redactUrl(url), detail: detailOf(cause) })))
  )

/**
 * Creates the tables of @effect/cluster's storages and ours, one process at a time (an advisory lock): workers that
 * start together would otherwise race to create the same tables.
 */
const SchemaLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const connection = yield* sql.reserve
    yield* connection.executeRaw(`SELECT pg_advisory_lock(${SCHEMA_LOCK})`, [])
    yield* Effect.gen(function* () {
      yield* Layer.build(Layer.merge(SqlMessageStorage.layer, SqlRunnerStorage.layer).pipe(Layer.provide(ShardingConfig.layer(clusterTimings))))
      const store = yield* ClusterStore
      yield* store.migrate
    }).pipe(
      Effect.scoped,
      Effect.ensuring(connection.executeRaw(`SELECT pg_advisory_unlock(${SCHEMA_LOCK})`, []).pipe(Effect.ignore))
    )
  })
)

export interface RunnerOptions {
  /** The address other runners and clients reach this runner at. */
  readonly host: string
  readonly port: number
  /** The address the runner listens on (default: every interface). */
  readonly listenHost?: string
}

/** The sharding layers over PostgreSQL at `url`, with ClusterStore and SqlClient. */
const overDatabase = <A, E, R>(url: string, sharding: Layer.Layer<A, E, R>) => {
  const database = DatabaseLive(url)
  const store = ClusterStore.Default.pipe(Layer.provide(database))
  return sharding.pipe(
    Layer.provide(SchemaLive),
    Layer.provideMerge(store),
    Layer.provideMerge(database)
  )
}

/**
 * A runner: it registers, takes a share of the shards in proportion to `weight` (the runs it trains at once) and
 * serves the entities registered with it.
 */
export const RunnerLive = (url: string, options: RunnerOptions & { readonly weight: number }) =>
  overDatabase(
    url,
    NodeClusterSocket.layer({
      storage: "sql",
      shardingConfig: {
        ...clusterTimings,
        runnerShardWeight: options.weight,
        runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
        runnerListenAddress: Option.some(RunnerAddress.make(options.listenHost ?? "0.0.0.0", options.port))
      }
    })
  )

/** A client only: it sends messages (persisted in PostgreSQL) and reads replies; it holds no shards. */
export const ClientLive = (url: string) =>
  overDatabase(url, NodeClusterSocket.layer({ storage: "sql", clientOnly: true, shardingConfig: clusterTimings }))
