/**
 * Task sampling: fresh training batches that are a pure function of (seed, step), and frozen evaluation and
 * grid-search sets, each fixed by its own seed and stream (so no set ever shares a task with another).
 */
import { Effect } from "effect"
import { canonicalJson, type TaskConfig } from "../domain/Config.js"
import { sampleTasks, type TaskBatch } from "../domain/Task.js"

export class TaskSampler extends Effect.Service<TaskSampler>()("icl-gd/TaskSampler", {
  sync: () => {
    // Frozen sets are shared by every run of a process (a sweep over seeds evaluates on the same tasks).
    const frozen = new Map<string, TaskBatch>()
    const frozenSet = (stream: "evaluation" | "grid", task: TaskConfig, seed: number, size: number) =>
      Effect.sync(() => {
        const key = canonicalJson({ stream, task, seed, size })
        let set = frozen.get(key)
        if (set === undefined) {
          set = sampleTasks(task, seed, stream, 0, size)
          frozen.set(key, set)
        }
        return set
      })
    return {
      /** The training batch of a step (1-based); the same (task, seed, step) always gives the same batch. */
      batch: (task: TaskConfig, seed: number, step: number, batchSize: number) =>
        Effect.sync(() => sampleTasks(task, seed, "train", step, batchSize)),
      /** The frozen evaluation set. */
      evaluationSet: (task: TaskConfig, seed: number, size: number) => frozenSet("evaluation", task, seed, size),
      /** The frozen grid-search set for the GD references' grid-optimal parameters. */
      gridSet: (task: TaskConfig, seed: number, size: number) => frozenSet("grid", task, seed, size)
    } as const
  }
}) {}
