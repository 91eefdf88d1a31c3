/**
 * The regression experiment kind: linear regression learned by K layers of attention (von Oswald et al.) and functions
 * drawn from Gaussian processes learned by attention with a non-linear activation (Cheng, Chen & Sra), and targets
 * linear in a fixed random feature map learned with an MLP embedding (von Oswald et al.'s deep representations).
 */
import { regressionMemory } from "../../domain/regression/Memory.js"
import type { Experiment, RunFailure } from "../Experiment.js"
import { RegressionServicesLive } from "../../services/regression/ServicesLive.js"
import { decodeRegressionConfig, REGRESSION_FAMILIES, type RegressionConfig, regressionDefaults } from "../../domain/regression/Config.js"
import { makeRegressionReport } from "./Report.js"
import { formatRegressionResult } from "./ResultText.js"
import { type RegressionSummary, regressionRun } from "./Run.js"
import { regressionAggregate, regressionResultRow } from "./Tables.js"

export const regression = {
  name: "regression",
  layer: RegressionServicesLive,
  families: REGRESSION_FAMILIES,
  defaults: regressionDefaults,
  decode: decodeRegressionConfig,
  run: regressionRun,
  resultRow: regressionResultRow,
  aggregate: regressionAggregate,
  report: makeRegressionReport,
  resultText: formatRegressionResult,
  memory: regressionMemory
} satisfies Experiment<RegressionConfig, RegressionSummary, RunFailure, unknown>
