/**
 * The classification experiment kind (the paper): in-context classification on the sphere learned by one attention
 * layer, compared with GD-lin, KGD-fixed and CA-KGD.
 */
import { classificationMemory } from "../../domain/classification/Memory.js"
import type { Experiment, RunFailure } from "../Experiment.js"
import { ClassificationServicesLive } from "../../services/classification/ServicesLive.js"
import { CLASSIFICATION_FAMILIES, decodeConfig, defaults, type ExperimentConfig } from "../../domain/classification/Config.js"
import { makeClassificationReport } from "./Report.js"
import { formatRunResult } from "./ResultText.js"
import { type RunSummary, trainRun } from "./Run.js"
import { classificationAggregate, classificationRow } from "./Tables.js"

export const classification = {
  name: "classification",
  layer: ClassificationServicesLive,
  families: CLASSIFICATION_FAMILIES,
  defaults,
  decode: decodeConfig,
  run: trainRun,
  resultRow: classificationRow,
  aggregate: classificationAggregate,
  report: makeClassificationReport,
  resultText: formatRunResult,
  memory: classificationMemory
} satisfies Experiment<ExperimentConfig, RunSummary, RunFailure, unknown>
