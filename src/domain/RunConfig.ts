/**
 * Any run's config: a classification experiment (the paper) or a regression one (von Oswald et al.; Cheng et al.).
 * `task.family` decides which schema a config is decoded with, so each kind reports its own fields' problems.
 */
import type { Either } from "effect"
import { type ConfigIssue, decodeConfig, defaults, type ExperimentConfig } from "./Config.js"
import {
  decodeRegressionConfig,
  REGRESSION_FAMILIES,
  type RegressionConfig,
  regressionDefaults
} from "./RegressionConfig.js"

export type RunConfig = ExperimentConfig | RegressionConfig

export const isRegressionConfig = (config: RunConfig): config is RegressionConfig =>
  (REGRESSION_FAMILIES as ReadonlyArray<string>).includes(config.task.family)

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** Whether a raw (undecoded) config names a regression task family. */
export const isRegressionInput = (value: unknown): boolean =>
  isObject(value) &&
  isObject(value["task"]) &&
  (REGRESSION_FAMILIES as ReadonlyArray<unknown>).includes(value["task"]["family"])

/** The defaults of the kind of experiment a raw config describes. */
export const defaultsFor = (value: unknown): RunConfig => (isRegressionInput(value) ? regressionDefaults : defaults)

export const decodeRunConfig = (value: unknown): Either.Either<RunConfig, ReadonlyArray<ConfigIssue>> =>
  isRegressionInput(value) ? decodeRegressionConfig(value) : decodeConfig(value)
