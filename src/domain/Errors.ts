/**
 * The failures a user can act on. Each is a tagged, serialisable error with a message that names the file or field
 * at fault; anything else is a defect (a bug) and surfaces as such.
 */
import { Schema } from "effect"

/** The config file could not be read, was not JSON, or did not match the schema (exit code 2). */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  reason: Schema.Literal("Unreadable", "NotJson", "Invalid"),
  file: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const head =
      this.reason === "Unreadable"
        ? `cannot read config file ${this.file}`
        : this.reason === "NotJson"
          ? `config file ${this.file} is not valid JSON`
          : `config file ${this.file} is invalid (${this.issues.length} problem${this.issues.length === 1 ? "" : "s"})`
    return [head, ...this.issues.map((issue) => `  - ${issue}`)].join("\n")
  }
}

/** A requested TensorFlow.js backend could not be loaded. */
export class BackendUnavailable extends Schema.TaggedError<BackendUnavailable>()("BackendUnavailable", {
  backend: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `TensorFlow.js backend ${this.backend} is unavailable: ${this.reason}`
  }
}

/** The training loss stopped being finite: a deterministic failure, never retried. */
export class TrainingDiverged extends Schema.TaggedError<TrainingDiverged>()("TrainingDiverged", {
  step: Schema.Number,
  loss: Schema.Number
}) {
  override get message(): string {
    return `training diverged at step ${this.step} (loss ${this.loss}); lower training.learningRate`
  }
}

/** Reading or writing a run's files failed. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  reason: Schema.Literal("ReadFailed", "WriteFailed", "Corrupt"),
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.reason === "Corrupt" ? "corrupt file" : this.reason === "ReadFailed" ? "cannot read" : "cannot write"} ${this.path}: ${this.detail}`
  }
}

/** A sweep folder holds results of a different config: refused, so that no result is overwritten or mixed. */
export class SweepDrift extends Schema.TaggedError<SweepDrift>()("SweepDrift", {
  folder: Schema.String,
  changes: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return [
      `sweep folder ${this.folder} holds results of a different config:`,
      ...this.changes.slice(0, 20).map((c) => `  - ${c}`),
      ...(this.changes.length > 20 ? [`  - … and ${this.changes.length - 20} more`] : []),
      `To keep both, give this config another "name" (it names the folder); to start over, delete ${this.folder}.`
    ].join("\n")
  }
}

/** One run of a sweep failed; transient failures (I/O, a dying worker) are retried, the others are recorded. */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  runId: Schema.String,
  reason: Schema.String,
  transient: Schema.Boolean
}) {
  override get message(): string {
    return `run ${this.runId} failed: ${this.reason}`
  }
}

/** Some runs of a sweep failed; the others finished and the results tables were written. */
export class SweepFailed extends Schema.TaggedError<SweepFailed>()("SweepFailed", {
  folder: Schema.String,
  failures: Schema.Array(Schema.Struct({ runId: Schema.String, reason: Schema.String }))
}) {
  override get message(): string {
    return `${this.failures.length} run${this.failures.length === 1 ? "" : "s"} of the sweep in ${this.folder} failed`
  }
}

/** The cluster's PostgreSQL could not be reached (a wrong --cluster URL, or the server is down). */
export class ClusterUnreachable extends Schema.TaggedError<ClusterUnreachable>()("ClusterUnreachable", {
  /** The URL without its password. */
  url: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    const down = /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|timed out/i.test(this.detail)
    return `cannot reach the cluster's PostgreSQL at ${this.url}: ${this.detail}${down ? " (is it running? `pnpm cluster:up` starts one on this machine)" : ""}`
  }
}

/** Failures that rerunning cannot fix: the same config fails the same way. */
export const isDeterministicFailure = (error: { readonly _tag: string; readonly reason?: unknown }): boolean =>
  error._tag === "TrainingDiverged" ||
  error._tag === "ConfigError" ||
  error._tag === "BackendUnavailable" ||
  (error._tag === "StoreError" && error.reason === "Corrupt")

/** Another live process is running the sweep in this folder (exit code 3). */
export class SweepLocked extends Schema.TaggedError<SweepLocked>()("SweepLocked", {
  folder: Schema.String,
  pid: Schema.Number,
  host: Schema.String,
  since: Schema.String,
  command: Schema.String
}) {
  override get message(): string {
    return [
      `sweep folder ${this.folder} is in use by another icl-gd process: pid ${this.pid} on ${this.host}, since ${this.since}${this.command !== "?" ? ` (${this.command})` : ""}.`,
      `Wait for it to finish (\`pnpm start status ${this.folder}\` shows its progress), or stop it (Ctrl-C in its terminal, or kill ${this.pid}: it checkpoints) and rerun this command to continue.`
    ].join("\n")
  }
}

/**
 * A path given to `status` or `report` that holds nothing they can read: missing, a file, an empty folder, a folder
 * that is neither a sweep's nor a run's, or one without a finished run (exit code 2).
 */
export class NotAFolder extends Schema.TaggedError<NotAFolder>()("NotAFolder", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/** A run that cannot fit in this machine's memory, refused before anything is written (exit code 2). */
export class ResourceLimit extends Schema.TaggedError<ResourceLimit>()("ResourceLimit", {
  runId: Schema.String,
  /** Runs planned at once. */
  parallel: Schema.Number,
  /** Estimated bytes of one run. */
  estimate: Schema.Number,
  /** Bytes the sweep may use on this machine. */
  available: Schema.Number,
  /** What the estimate is made of, largest first: "evaluation set (evaluation.size = 10000000, …): 65 GB". */
  terms: Schema.Array(Schema.String),
  advice: Schema.String
}) {
  override get message(): string {
    const gb = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.round(bytes / 2 ** 20)} MB`)
    return [
      `run ${this.runId} needs about ${gb(this.estimate)} of memory${this.parallel > 1 ? ` (${this.parallel} at a time: ${gb(this.estimate * this.parallel)})` : ""}, more than the ${gb(this.available)} this machine has for it:`,
      ...this.terms.map((term) => `  - ${term}`),
      this.advice
    ].join("\n")
  }
}
