/**
 * The cluster's one entity: a run, addressed by its run id. Its one message, `Train`, is persisted in PostgreSQL
 * (@effect/cluster's SQL message storage) with the run id as primary key, so a sweep submitted twice sends each run
 * once, a submitter that died reattaches to the stored replies, and a runner that died leaves its messages for the
 * runner that takes over its shards.
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Schema } from "effect"
import { RunFailed } from "../../domain/Errors.js"

/** What a runner replies when a run's files are stored in PostgreSQL. */
export class RunReceipt extends Schema.Class<RunReceipt>("RunReceipt")({
  runId: Schema.String,
  /** The runner (host:port) that stored the files. */
  runner: Schema.String,
  /** False when the files were stored before (the run was delivered again): nothing was trained. */
  trained: Schema.Boolean,
  files: Schema.Number,
  bytes: Schema.Number
}) {}

export const Train = Rpc.make("Train", {
  payload: {
    runId: Schema.String,
    /** The run's resolved config (JSON): the runner decodes it with its own code and checks the run id. */
    config: Schema.Unknown
  },
  success: RunReceipt,
  error: RunFailed,
  primaryKey: ({ runId }) => runId
})

/**
 * Persisted; and a client never interrupts a run: a submitter that stops (Ctrl-C) leaves its runs training on the
 * cluster, and rerunning it collects them.
 */
export const RunEntity = Entity.make("Run", [Train])
  .annotateRpcs(ClusterSchema.Persisted, true)
  .annotateRpcs(ClusterSchema.Uninterruptible, "client")
