/**
 * icl-gd: in-context learning by attention and the (kernel) gradient-descent steps it implements: classification
 * (the paper), linear regression (von Oswald et al.) and functions drawn from Gaussian processes (Cheng et al.).
 * The public API: the configs, the domain's pure functions, the services and the programs, to compose experiments of
 * your own (see examples/).
 */

// Shared by every experiment kind.
export * as ConfigSchema from "./domain/ConfigSchema.js"
export type { BaseConfig, ConfigIssue } from "./domain/ConfigSchema.js"
export {
  BackendUnavailable,
  ClusterUnreachable,
  ConfigError,
  RunFailed,
  StoreError,
  SweepDrift,
  SweepFailed,
  SweepLocked,
  TrainingDiverged
} from "./domain/Errors.js"
export {
  planSweepWith,
  reconcileSweep,
  type ConfigKind,
  type Reconciled,
  type RunState,
  type RunRecord,
  type SweepDefinition,
  type SweepPlan,
  type SweepRun
} from "./domain/Sweep.js"
export { ExitCode } from "./ExitCodes.js"
export { inspectLock, lockFolder, type LockOwner, type LockState } from "./services/FolderLock.js"
export { aggregate, meanAndSe, meanInterval, pairedDifference, spreadOf, type AggregateGroup, type Estimate, type Spread } from "./domain/Results.js"
export { evaluationSteps } from "./domain/EvaluationSchedule.js"
export { keyedRng, Rng } from "./domain/Rng.js"
export { configHash, runIdOf } from "./domain/RunId.js"
export { fastExp } from "./domain/FastExp.js"
export { learningRateAt, type ScheduleOptions } from "./domain/LearningRate.js"
export {
  adamUpdate,
  clipGradients,
  gradientNorm,
  initVectorOptimizer,
  optimizerStep,
  sgdUpdate,
  vectorOptimizerStep,
  type OptimizerOptions,
  type OptimizerState,
  type VectorOptimizerState
} from "./domain/Optimizer.js"
export { fillInitial, TRUNCATED_NORMAL_STD } from "./domain/Initialisation.js"
export { formatProportion, wilsonInterval, type Proportion } from "./domain/Binomial.js"
export { canonicalJson } from "./domain/ConfigSchema.js"
export { goldenSection, logSpace, signedGrid } from "./domain/Search.js"

// Classification (the paper).
export * as Config from "./domain/classification/Config.js"
export type { ExperimentConfig, TaskConfig } from "./domain/classification/Config.js"
export {
  constructionWeights,
  extractParameters,
  referenceKindOf,
  referenceShapeOf,
  solutionKind,
  structureDiagnostics,
  type ExtractedParameters,
  type SolutionKind
} from "./domain/classification/Extraction.js"
export {
  referenceFeatures,
  referencePredict,
  minimizeScale,
  type ReferenceKind,
  type ReferenceParams,
  type ReferenceShape
} from "./domain/classification/GdMath.js"
export { gridSearch, type GridPoint, type GridResult } from "./domain/classification/GridSearch.js"
export {
  basinAt,
  basinDecidedAt,
  basinOf,
  decisionOf,
  predictionBySteps,
  rocArea,
  type Basin,
  type Decision,
  type TrajectoryPoint
} from "./domain/classification/Basins.js"
export {
  alignment,
  pairedDifferences,
  perContext,
  performance,
  standardErrors,
  type Alignment,
  type PairedDifferences,
  type Performance,
  type Predictions
} from "./domain/classification/Metrics.js"
export { forwardBatch, initWeights, modelSpecOf, type ModelSpec, type Weights } from "./domain/classification/Model.js"
export { sampleShiftedTasks, sampleTasks, type TaskBatch } from "./domain/classification/Task.js"
export { contextFeatures, effectiveSteps, type ContextFeatures } from "./domain/classification/ContextFeatures.js"
export { binnedMeans, following, quantileBins, type Bins } from "./domain/classification/Adaptability.js"
export { makeFusedKernel } from "./domain/classification/FusedKernel.js"
export { CHUNK_TASKS, makeChunkGradient } from "./domain/classification/ChunkedGradient.js"

// Regression (von Oswald et al.; Cheng, Chen & Sra).
export * as RegressionConfig from "./domain/regression/Config.js"
export { sampleRegressionTasks, type RegressionBatch } from "./domain/regression/Task.js"
export {
  constructedWeights,
  extractSteps,
  predictBatch as predictRegression,
  squaredLoss,
  type RegressionSpec,
  type StepParameters
} from "./domain/regression/Model.js"
export { fitKernelGd, kernelGdPredictions, kernelTables, posteriorMean, type KernelGdFit } from "./domain/regression/KernelGd.js"
export { alignmentOf as regressionAlignment, type RegressionAlignment } from "./domain/regression/Metrics.js"
export { makeOneLayerKernel } from "./domain/regression/FusedKernel.js"

// Services.
export { RunStore } from "./services/RunStore.js"
export { TfBackend } from "./services/TfBackend.js"
export type { EngineInfo } from "./services/EngineInfo.js"
export { TerminalLoggingLive } from "./services/Logging.js"
export { FigureRenderer } from "./services/FigureRenderer.js"
export { GdReference } from "./services/classification/GdReference.js"
export { MetricsCollector, type Evaluation, type EvaluationPoint, type Scored } from "./services/classification/MetricsCollector.js"
export { ModelTrainer, type TrainingSession } from "./services/classification/ModelTrainer.js"
export { GradientWorkerFailed } from "./services/GradientProtocol.js"
export { makeParallelGradient, type ParallelGradient } from "./services/classification/ParallelGradient.js"
export { TaskSampler } from "./services/classification/TaskSampler.js"
export { RegressionTrainer, type RegressionSession } from "./services/regression/Trainer.js"
export { RegressionReferences } from "./services/regression/References.js"
export { ServicesLive } from "./AppLayer.js"

// Programs.
export type { Experiment, AnyExperiment } from "./programs/Experiment.js"
export { decodeRunConfig, experimentOf, experiments, planSweep, runExperiment } from "./programs/Registry.js"
export { classification } from "./programs/classification/Experiment.js"
export { regression } from "./programs/regression/Experiment.js"
export { loadConfig, loadSweep, parseConfigText, parseSweepText } from "./programs/LoadConfig.js"
export { runSweep, sweepStatus, type SweepOptions, type SweepResult } from "./programs/Sweep.js"
export { localPlacement, Placement, type PlacedRuns, type PlacementService } from "./programs/Placement.js"
export { ClusterPlacementLive } from "./programs/cluster/ClusterPlacement.js"
export { runWorker, WorkerLive, type WorkerOptions } from "./programs/cluster/Worker.js"
export { sweepClusterStatus } from "./programs/cluster/ClusterStatus.js"
export { ClusterStore } from "./services/cluster/ClusterStore.js"
export { ClientLive, DatabaseLive, RunnerLive } from "./services/cluster/ClusterLayers.js"
export { RunEntity, RunReceipt } from "./services/cluster/RunEntity.js"
export { CheckpointSink } from "./services/CheckpointSink.js"
export { makeReport } from "./programs/MakeReport.js"
export type { Report, ReportFigure } from "./programs/ReportDocuments.js"
export { loadRun, type StoredRun } from "./programs/classification/LoadRun.js"
export { evaluateAtContextLengths, type ContextLengthRow } from "./programs/classification/ContextLengths.js"
export { evaluateShifts, standardShifts, type NamedShift, type ShiftResult } from "./programs/classification/OutOfDistribution.js"
export { formatRunResult } from "./programs/classification/ResultText.js"
export { formatRegressionResult } from "./programs/regression/ResultText.js"
export { trainRun, type RunResult, type RunSummary } from "./programs/classification/Run.js"
export { regressionRun, type RegressionPoint, type RegressionSummary } from "./programs/regression/Run.js"
