/**
 * icl-gd: in-context learning by attention and the (kernel) gradient-descent steps it implements: classification
 * (the paper), linear regression (von Oswald et al.) and functions drawn from Gaussian processes (Cheng et al.).
 * The public API: the config, the domain's pure functions, the services and the programs, to compose experiments of
 * your own (see examples/).
 */
export * as Config from "./domain/Config.js"
export type { ExperimentConfig, TaskConfig } from "./domain/Config.js"
export {
  BackendUnavailable,
  ConfigError,
  RunFailed,
  StoreError,
  SweepDrift,
  SweepFailed,
  TrainingDiverged
} from "./domain/Errors.js"
export { planSweep, type SweepPlan, type SweepRun } from "./domain/Sweep.js"
export { aggregate, meanInterval, type AggregateGroup } from "./domain/Results.js"
export { evaluationSteps } from "./domain/EvaluationSchedule.js"
export {
  constructionWeights,
  extractParameters,
  referenceKindOf,
  referenceShapeOf,
  solutionKind,
  structureDiagnostics,
  type ExtractedParameters,
  type SolutionKind
} from "./domain/Extraction.js"
export {
  referenceFeatures,
  referencePredict,
  minimizeScale,
  type ReferenceKind,
  type ReferenceParams,
  type ReferenceShape
} from "./domain/GdMath.js"
export { gridSearch, type GridPoint, type GridResult } from "./domain/GridSearch.js"
export { alignment, perContext, performance, type Alignment, type Performance, type Predictions } from "./domain/Metrics.js"
export { forwardBatch, initWeights, modelSpecOf, type ModelSpec, type Weights } from "./domain/Model.js"
export { keyedRng, Rng } from "./domain/Rng.js"
export { configHash, runIdOf } from "./domain/RunId.js"
export { sampleTasks, type TaskBatch } from "./domain/Task.js"
export * as RegressionConfig from "./domain/RegressionConfig.js"
export { decodeRunConfig, isRegressionConfig, type RunConfig } from "./domain/RunConfig.js"
export { sampleRegressionTasks, type RegressionBatch } from "./domain/RegressionTask.js"
export {
  constructedWeights,
  extractSteps,
  predictBatch as predictRegression,
  squaredLoss,
  type RegressionSpec,
  type StepParameters
} from "./domain/RegressionModel.js"
export { fitKernelGd, kernelGdPredictions, kernelTables, posteriorMean, type KernelGdFit } from "./domain/KernelGd.js"
export { alignmentOf as regressionAlignment, type RegressionAlignment } from "./domain/RegressionMetrics.js"
export { makeOneLayerKernel } from "./domain/RegressionFused.js"
export { makeFusedKernel } from "./domain/FusedKernel.js"
export { CHUNK_TASKS, makeChunkGradient } from "./domain/ChunkedGradient.js"
export { fastExp } from "./domain/FastExp.js"

export { GdReference } from "./services/GdReference.js"
export { MetricsCollector, type Evaluation, type EvaluationPoint, type Scored } from "./services/MetricsCollector.js"
export { ModelTrainer, type EngineInfo, type TrainingSession } from "./services/ModelTrainer.js"
export { GradientWorkerFailed, makeParallelGradient, type ParallelGradient } from "./services/ParallelGradient.js"
export { RunStore } from "./services/RunStore.js"
export { TaskSampler } from "./services/TaskSampler.js"
export { RegressionTrainer, type RegressionSession } from "./services/RegressionTrainer.js"
export { RegressionReferences } from "./services/RegressionReferences.js"
export { TfBackend } from "./services/TfBackend.js"
export { TerminalLoggingLive } from "./services/Logging.js"
export { FigureRenderer } from "./services/FigureRenderer.js"

export { ServicesLive } from "./AppLayer.js"
export { loadConfig, loadSweep, parseConfigText, parseSweepText } from "./programs/LoadConfig.js"
export { runSweep, sweepStatus, type SweepOptions, type SweepResult } from "./programs/Sweep.js"
export { makeReport } from "./programs/MakeReport.js"
export type { Report, ReportFigure } from "./programs/ReportDocuments.js"
export { loadRun, type StoredRun } from "./programs/LoadRun.js"
export { evaluateAtContextLengths, type ContextLengthRow } from "./programs/ContextLengths.js"
export { formatRunResult } from "./programs/RunResultText.js"
export { trainRun, type RunResult, type RunSummary } from "./programs/TrainRun.js"
export { regressionRun, type RegressionPoint, type RegressionSummary } from "./programs/RegressionRun.js"
export { runExperiment } from "./programs/RunExperiment.js"
