/**
 * Where a run's checkpoints go besides its own folder. By default nowhere: the folder is the run's only home. A run
 * that trains on a cluster runner's worker thread hands each checkpoint to the runner, which stores it in PostgreSQL
 * so that another machine can resume the run if this one dies.
 */
import { Context, Effect } from "effect"

export interface CheckpointSinkService {
  /** Called after a checkpoint was written atomically to `file`, with its text. */
  readonly saved: (file: string, text: string) => Effect.Effect<void>
}

export class CheckpointSink extends Context.Reference<CheckpointSink>()("icl-gd/CheckpointSink", {
  defaultValue: (): CheckpointSinkService => ({ saved: () => Effect.void })
}) {}
