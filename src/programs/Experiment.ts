/**
 * An experiment kind: what the sweep, the run dispatcher, the report command and the CLI need to know about one kind
 * of experiment, and nothing else. Each kind's folder (programs/classification, programs/regression) exports one
 * value of this interface; programs/Registry lists them. A third kind is a third folder and one line there.
 */
import type { MemoryTerm } from "../domain/Memory.js"
import type { Effect, Layer } from "effect"
import type { ConfigKind, RunState, SweepRun } from "../domain/Sweep.js"
import type { ResultRow } from "../domain/Results.js"
import type { BaseConfig } from "../domain/ConfigSchema.js"
import type { FinishedRun, Report } from "./ReportDocuments.js"
import type { RunFolderOptions, RunOutcome } from "./RunFolder.js"

/** The shape of a run's failure, as the sweep records it (every error of this package is a tagged error). */
export interface RunFailure {
  readonly _tag: string
  readonly message: string
  readonly reason?: unknown
}

/**
 * One experiment kind, over its resolved config C and its run summary S (what summary.json holds); E is what its runs
 * and reports can fail with, R the services its runs need and RR those its reports need.
 */
export interface Experiment<C extends BaseConfig, S, E extends RunFailure, R, RR = R> extends ConfigKind<C> {
  /** The kind's own services (its runs' and reports' requirements beyond the shared RunStore, TfBackend, FigureRenderer). */
  readonly layer: Layer.Layer<never, unknown, unknown>
  /** Trains one run in its folder: a finished run is returned as stored, a partial one continues from its checkpoint. */
  readonly run: (config: C, options: RunFolderOptions) => Effect.Effect<RunOutcome<S>, E, R>
  /**
   * The run's row of results.csv: its identity columns (Results.runColumns), its config's columns, its state, its final
   * metrics from the summary (null when it has none), its wall time and its error.
   */
  readonly resultRow: (run: SweepRun, state: RunState, summary: S | undefined, wallSeconds: number | null, error: string | null) => ResultRow
  /**
   * aggregate.csv's rows and aggregate.md's text: the results rows grouped by `keyColumns` (the sweep's axes), metrics
   * aggregated over the seeds of each group.
   */
  readonly aggregate: (
    sweepName: string,
    rows: ReadonlyArray<ResultRow>,
    keyColumns: ReadonlyArray<string>
  ) => { readonly rows: ReadonlyArray<ResultRow>; readonly markdown: string }
  /** `report`: figures and tables from the finished runs of a folder, written to `<folder>/report/`. */
  readonly report: (folder: string, runs: ReadonlyArray<FinishedRun>) => Effect.Effect<Report, E, RR>
  /** The plain text the CLI prints for a single run's result. */
  readonly resultText: (outcome: RunOutcome<S>) => string
  /** The run's memory, term by term, estimated from its config (domain/Memory): checked before a sweep starts. */
  readonly memory: (config: C) => ReadonlyArray<MemoryTerm>
}

/** Any kind, as the registry holds them. */
export type AnyExperiment<E extends RunFailure = RunFailure, R = never, RR = R> = Experiment<any, any, E, R, RR>

type RunOf<X> = X extends { readonly run: (...args: any) => infer A extends Effect.Effect<any, any, any> } ? A : never
type ReportOf<X> = X extends { readonly report: (...args: any) => infer A extends Effect.Effect<any, any, any> } ? A : never
/** The services a kind's runs need (distributes over a union of kinds). */
export type RunServicesOf<X> = Effect.Effect.Context<RunOf<X>>
/** The services a kind's reports need (distributes over a union of kinds). */
export type ReportServicesOf<X> = Effect.Effect.Context<ReportOf<X>>
/** What a kind's runs and reports can fail with (distributes over a union of kinds). */
export type FailureOf<X> = Effect.Effect.Error<RunOf<X> | ReportOf<X>>
