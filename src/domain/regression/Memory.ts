/**
 * A regression run's memory from its config (domain/Memory): the evaluation and grid-search sets (n·(8d + 8) bytes per
 * task, domain/regression/Task), the Gram matrices of Gaussian-process draws ((n + 1)² per thread), the training
 * batches through K layers, GD++'s full-batch fit, and a learned embedding's activations (TensorFlow.js, float32).
 * The factors are the classification ones (measured), which err on the high side here.
 */
import type { MemoryTerm } from "../Memory.js"
import type { RegressionConfig } from "./Config.js"

export const regressionMemory = (config: RegressionConfig): ReadonlyArray<MemoryTerm> => {
  const { n, d } = config.task
  const context = n * (8 * d + 8)
  const threads = config.runtime.samplerThreads
  const layers = config.model.layers
  const helpers = 1 + 0.45 * threads
  const embedding = config.model.embedding
  const widths = embedding === null ? 0 : embedding.hidden.reduce((sum, w) => sum + w, 0) + embedding.features
  return [
    { what: "evaluation set", fields: { "evaluation.size": config.evaluation.size, "task.n": n, "task.d": d }, bytes: config.evaluation.size * (2.6 * context + 1000) * helpers },
    { what: "grid-search set", fields: { "references.gridSize": config.references.gridSize, "task.n": n, "task.d": d }, bytes: config.references.gridSize * 1.35 * context * helpers },
    { what: "Gaussian-process draws", fields: { "task.n": n, "runtime.samplerThreads": threads }, bytes: (n + 1) ** 2 * 8 * 3 * (1 + threads) },
    {
      what: "training batches",
      fields: { "training.batchSize": config.training.batchSize, "task.n": n, "task.d": d, "model.layers": layers, "runtime.samplerThreads": threads },
      bytes: config.training.batchSize * (context * (3 + threads) + 16 * (n + 1) * (d + 1) * layers)
    },
    {
      what: "GD++ fit",
      fields: { "references.gdPlusPlusTasks": config.references.gdPlusPlusTasks, "task.n": n, "task.d": d, "model.layers": layers },
      bytes: config.references.gdPlusPlusTasks * (n + 1) * (d + 1) * 8 * 4 * layers
    },
    ...(embedding === null
      ? []
      : [
          {
            what: "embedding activations",
            fields: { "training.batchSize": config.training.batchSize, "task.n": n, "model.embedding.hidden": embedding.hidden, "model.embedding.features": embedding.features },
            bytes: config.training.batchSize * (n + 1) * widths * 4 * 4
          }
        ])
  ]
}
