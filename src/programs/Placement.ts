/**
 * Where the runs of a sweep execute, and how their files reach the sweep folder. The sweep (planning, the manifest,
 * retries, the results tables) and the run program are the same wherever runs execute; only this service differs:
 *   local (the default)  this process, or a pool of worker threads on this machine, writing into the sweep folder
 *   cluster              the runners of an @effect/cluster cluster; the files come back through PostgreSQL
 *                        (programs/cluster/ClusterPlacement)
 */
import { availableParallelism } from "node:os"
import type { Worker } from "node:worker_threads"
import { Context, Effect, type Scope } from "effect"
import { isDeterministicFailure, RunFailed } from "../domain/Errors.js"
import type { SweepRun } from "../domain/Sweep.js"
import type { RunFailure } from "./Experiment.js"
import { runExperiment, type RunServices } from "./Registry.js"
import { makeRunPool, threadConfig } from "./RunPool.js"
import type { RunStore } from "../services/RunStore.js"

/** A placement opened for one sweep. */
export interface PlacedRuns {
  /** Where runs execute, for the log. */
  readonly where: string
  /** How many runs the sweep hands over at once. */
  readonly concurrency: number
  /** How many runs train at once (for the ETA). */
  readonly slots: number
  /**
   * Set when the runs go on without this process (on a cluster): the line the terminal gets once when the sweep is
   * interrupted, instead of where each run stopped.
   */
  readonly detachedNote?: string
  /**
   * One attempt at a run: when it succeeds, the run's files are in `dir` (its folder in the sweep folder). A
   * transient failure may be retried by calling it again.
   */
  readonly execute: (run: SweepRun, dir: string) => Effect.Effect<void, RunFailed, RunServices | RunStore>
}

export interface PlaceOptions {
  /** Runs trained at once when they train on this machine (default: the number of cores). */
  readonly concurrency?: number | undefined
  /** Observes each worker thread of this machine's pool as it starts (tests make one die mid-run). */
  readonly onWorkerStart?: ((worker: Worker) => void) | undefined
}

export interface PlacementService {
  /** Opens the placement for `runs` runs to execute; closing the scope releases what it holds (threads, connections). */
  readonly open: (runs: number, options: PlaceOptions) => Effect.Effect<PlacedRuns, never, Scope.Scope>
}

const toRunFailed = (runId: string) => (error: RunFailure) =>
  error instanceof RunFailed ? error : new RunFailed({ runId, reason: error.message, transient: !isDeterministicFailure(error) })

/**
 * This machine: one run trains in this process (with its progress line); several train on a pool of worker threads,
 * one run per thread.
 */
export const localPlacement: PlacementService = {
  open: (runs, options) =>
    Effect.gen(function* () {
      const concurrency = Math.max(1, Math.min(options.concurrency ?? availableParallelism(), runs))
      const where = concurrency === 1 ? "this process" : `${concurrency} worker threads`
      if (concurrency === 1) {
        return {
          where,
          concurrency,
          slots: concurrency,
          execute: (run, dir) =>
            runExperiment(runs === 1 ? run.config : { ...run.config, output: { ...run.config.output, progress: false } }, { dir, recordedConfig: run.config }).pipe(
              Effect.asVoid,
              Effect.mapError(toRunFailed(run.id))
            )
        } satisfies PlacedRuns
      }
      const pool = yield* makeRunPool(concurrency, options.onWorkerStart)
      return { where, concurrency, slots: concurrency, execute: (run, dir) => pool.run({ config: threadConfig(run.config), dir, recordedConfig: run.config }, run.id) } satisfies PlacedRuns
    })
}

export class Placement extends Context.Reference<Placement>()("icl-gd/Placement", {
  defaultValue: (): PlacementService => localPlacement
}) {}
