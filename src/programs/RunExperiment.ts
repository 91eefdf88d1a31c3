/**
 * Any run, by its kind: a classification run (TrainRun) or a regression run (RegressionRun).
 */
import { Effect } from "effect"
import { isRegressionConfig, type RunConfig } from "../domain/RunConfig.js"
import { regressionRun, type RegressionSummary } from "./RegressionRun.js"
import type { RunFolderOptions, RunOutcome } from "./RunFolder.js"
import { trainRun, type RunSummary } from "./TrainRun.js"

export type AnySummary = RunSummary | RegressionSummary

export const isRegressionSummary = (summary: AnySummary): summary is RegressionSummary =>
  (summary as { readonly kind?: string }).kind === "regression"

export const runExperiment = (config: RunConfig, options: RunFolderOptions = {}) =>
  Effect.gen(function* () {
    const outcome: RunOutcome<AnySummary> = isRegressionConfig(config)
      ? yield* regressionRun(config, options)
      : yield* trainRun(config, options)
    return outcome
  })
