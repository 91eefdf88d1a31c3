/**
 * A classification run's memory from its config (domain/Memory): the evaluation sets, the grid-search set, the training
 * batches (one per sampler thread and one being trained on) and the reference landscapes. Per context, a task holds
 * n·(8d + 4) bytes (domain/classification/Task); the factors are from measured peak resident memory at d = 5, C = 5,
 * n = 100 (`/usr/bin/time -f %M`, 10 steps, the set's size varied): 12.3 KB per evaluation context without helper
 * threads and 17.6 KB with one (the scores of the model and every reference, and what the helpers share), 8.4 KB per
 * grid-search context with one helper; 141 MB with small sets.
 */
import type { MemoryTerm } from "../Memory.js"
import type { ExperimentConfig } from "./Config.js"

export const classificationMemory = (config: ExperimentConfig): ReadonlyArray<MemoryTerm> => {
  const { n, d, C } = config.task
  const context = n * (8 * d + 4)
  const threads = config.runtime.samplerThreads
  const tfjs = config.model.engine === "tfjs" ? 4 : 1
  // Helper threads hold their own views and scores of the sets: +40% each, measured with one (rounded up).
  const helpers = 1 + 0.45 * threads
  return [
    {
      what: "evaluation set",
      fields: { "evaluation.size": config.evaluation.size, "task.n": n, "task.d": d, "task.C": C },
      bytes: config.evaluation.size * (2.6 * context + 1000 + 80 * C) * helpers
    },
    {
      what: "grid-search set",
      fields: { "references.gridSize": config.references.gridSize, "task.n": n, "task.d": d },
      bytes: config.references.gridSize * 1.35 * context * helpers
    },
    {
      what: "training batches",
      fields: { "training.batchSize": config.training.batchSize, "task.n": n, "task.d": d, "task.C": C, "runtime.samplerThreads": threads },
      bytes: config.training.batchSize * (context * (3 + threads) + tfjs * 24 * n * (d + C))
    },
    {
      what: "reference landscapes",
      fields: { "references.cSigma.count": config.references.cSigma.count, "references.scale.count": config.references.scale.count },
      bytes: config.references.cSigma.count * config.references.scale.count * 4 * 8 * 4
    }
  ]
}
