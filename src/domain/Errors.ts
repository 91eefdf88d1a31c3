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
