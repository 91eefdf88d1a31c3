/**
 * The config of a classification experiment (the paper): what a user writes (every field optional, unknown keys
 * rejected) and what a run uses (every field filled from the defaults). The resolved config is what is hashed into the
 * run id and stored with the run.
 */
import { Schema } from "effect"
import {
  BackendChoice,
  Bool,
  type ConfigIssue,
  decoderOf,
  EngineChoice,
  EvaluationConfig,
  exactOptional,
  expecting,
  FiniteNumber,
  InitDistribution,
  Count,
  LogRange,
  Name,
  NonNegativeNumber,
  objectExpected,
  oneOf,
  OutputConfig,
  PositiveInt,
  PositiveNumber,
  RuntimeConfig,
  section,
  Seed,
  TRAINING_OPTION_DEFAULTS,
  TrainingConfig,
  trainingIssues
} from "../ConfigSchema.js"

const AtLeastTwo = expecting(Schema.Int.pipe(Schema.between(2, 1_000)), "an integer from 2 to 1,000")

export const CLASSIFICATION_FAMILIES = ["cluster", "voronoi"] as const
export const TaskFamily = oneOf(...CLASSIFICATION_FAMILIES)
export type TaskFamily = typeof TaskFamily.Type

export const TaskConfig = Schema.Struct({
  family: TaskFamily,
  d: Count(4_096),
  C: AtLeastTwo,
  n: Count(100_000),
  noise: NonNegativeNumber,
  balanced: Bool,
  queryClassInContext: Bool
})
export type TaskConfig = typeof TaskConfig.Type

export const Attention = oneOf("linear", "softmax", "exp")
export type Attention = typeof Attention.Type

const AttendToQuery = expecting(Schema.Union(Schema.Literal("auto"), Schema.Boolean), `"auto", true or false`)

export const ModelConfig = Schema.Struct({
  attention: Attention,
  attendToQuery: AttendToQuery,
  /** The standard deviation of every initial weight. */
  initScale: PositiveNumber,
  initDistribution: InitDistribution,
  /**
   * Added to the diagonal of A (W_KQ's input block) and of B_yy (W_PV's label block) after the random draw: the GD
   * construction's a and b (spec §4), so the initial a = tr(A)/d and b read off the weights are these plus the random
   * part. The sign of the initial b decides the basin softmax attention learns (README, Basins).
   */
  initA: FiniteNumber,
  initB: FiniteNumber,
  expShift: FiniteNumber,
  /**
   * Train only the blocks the GD construction reads, A (W_KQ's x-rows × x-columns) and B_yy (W_PV's label rows ×
   * label columns), with every other entry fixed at 0 (spec §2.2 restrict_blocks, the E11 ablation).
   */
  restrictBlocks: Bool,
  engine: EngineChoice,
  backend: BackendChoice
})
export type ModelConfig = typeof ModelConfig.Type

const SeedList = expecting(Schema.Array(Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))), "a list of non-negative integer seeds")

const Nullable = <S extends Schema.Schema.Any>(schema: S, what: string) =>
  expecting(Schema.NullOr(schema), `null or ${what}`) as unknown as Schema.NullOr<S>

/**
 * A distribution shift of the evaluation tasks away from the training tasks (spec §6 E9), applied to the evaluation
 * sets only (never to training batches or the references' grid-search set). Each field's neutral value leaves the
 * tasks exactly as trained on.
 */
export const EvaluationShift = Schema.Struct({
  /** x → αx for every context input and the query, after sampling on the sphere (1: none). */
  inputScale: PositiveNumber,
  /** The class noise ε of the evaluation tasks (null: the task's own `task.noise`). Cluster family only. */
  noise: Nullable(NonNegativeNumber, "a non-negative number"),
  /**
   * Class imbalance ρ ≥ 1 of the context: each task ranks the classes its context may hold at random and draws
   * context labels with probability ∝ ρ^(−rank/(m−1)), m classes, so the most frequent class is ρ times as likely as
   * the rarest (1: uniform). Cluster family only.
   */
  imbalance: expecting(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1), Schema.finite()), "a number ≥ 1"),
  /** "any": the query's class is drawn as in training; "absent": the context holds no point of the query's class. */
  queryClass: oneOf("any", "absent"),
  /**
   * The number k of classes present in the context: a random subset of k classes per task (holding the query's class
   * unless it is absent), context labels drawn among them (null: every class). Cluster family only.
   */
  contextClasses: Nullable(PositiveInt, "a positive integer")
})
export type EvaluationShift = typeof EvaluationShift.Type

/** The shift that leaves the evaluation tasks as trained on. */
export const NO_SHIFT: EvaluationShift = { inputScale: 1, noise: null, imbalance: 1, queryClass: "any", contextClasses: null }

/**
 * The evaluation section: the shared fields (cadence, set size, the set's seed); `seeds`, independent evaluation
 * sets of the same size on which the final model and every reference are scored again, to measure how much the
 * reported numbers depend on the one set `seed` fixes; and `shift`, a distribution shift of every evaluation set.
 */
export const ClassificationEvaluation = Schema.Struct({
  ...EvaluationConfig.fields,
  seeds: SeedList,
  shift: EvaluationShift
})
export type ClassificationEvaluation = typeof ClassificationEvaluation.Type

/** What a user may write in the evaluation section: every field optional, the shift's too. */
const EvaluationInput = Schema.Struct({
  every: exactOptional(EvaluationConfig.fields.every),
  logSpacedPoints: exactOptional(EvaluationConfig.fields.logSpacedPoints),
  size: exactOptional(EvaluationConfig.fields.size),
  seed: exactOptional(EvaluationConfig.fields.seed),
  seeds: exactOptional(SeedList),
  shift: section(EvaluationShift)
})

export const ReferencesConfig = Schema.Struct({
  gridSize: Count(10_000_000),
  gridSeed: Seed,
  cSigma: LogRange,
  scale: LogRange,
  refine: Bool,
  scanSize: Count(10_000_000)
})
export type ReferencesConfig = typeof ReferencesConfig.Type

/**
 * Stop a run once its basin (the sign of the learned c_σ, domain/classification/Basins) is decided: at an evaluation
 * point where |c_σ| ≥ minCSigma and the sign has held at every evaluation point of the last `patience` steps. For
 * cheap studies over many seeds; a run stopped early says so in its summary and in the results tables, and its
 * final metrics are those of the stop step.
 */
export const EarlyStopConfig = Schema.Struct({
  basinDecided: Bool,
  patience: PositiveInt,
  minCSigma: NonNegativeNumber
})
export type EarlyStopConfig = typeof EarlyStopConfig.Type

/**
 * The fully resolved config of one run. A stored config.json is read back with {@link decodeConfig}, which fills the
 * fields added after it was written with their defaults.
 */
export const ExperimentConfig = Schema.Struct({
  name: Name,
  seed: Seed,
  task: TaskConfig,
  model: ModelConfig,
  training: TrainingConfig,
  evaluation: ClassificationEvaluation,
  references: ReferencesConfig,
  earlyStop: EarlyStopConfig,
  output: OutputConfig,
  runtime: RuntimeConfig
})
export type ExperimentConfig = typeof ExperimentConfig.Type

/** Off: every run trains its full `training.steps` (the section added after the first results; RunId's NEUTRAL_FIELDS). */
export const EARLY_STOP_DEFAULTS: EarlyStopConfig = { basinDecided: false, patience: 2000, minCSigma: 1 }

/** Defaults: the paper's main setting (d, C, n) = (5, 5, 100), cluster tasks with noise 0.5 (spec §1–§4). */
export const defaults: ExperimentConfig = {
  name: "run",
  seed: 0,
  task: { family: "cluster", d: 5, C: 5, n: 100, noise: 0.5, balanced: false, queryClassInContext: false },
  model: {
    attention: "softmax",
    attendToQuery: "auto",
    initScale: 0.02,
    initDistribution: "normal",
    initA: 0,
    initB: 0,
    expShift: 0,
    restrictBlocks: false,
    engine: "auto",
    backend: "auto"
  },
  training: {
    optimizer: "adam",
    learningRate: 1e-2,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    ...TRAINING_OPTION_DEFAULTS,
    batchSize: 512,
    steps: 12000
  },
  evaluation: { every: 500, logSpacedPoints: 8, size: 10000, seed: 1001, seeds: [], shift: NO_SHIFT },
  references: {
    gridSize: 10000,
    gridSeed: 2002,
    cSigma: { min: 0.1, max: 1000, count: 61 },
    scale: { min: 0.01, max: 3162, count: 41 },
    refine: true,
    scanSize: 2000
  },
  earlyStop: EARLY_STOP_DEFAULTS,
  output: { dir: "runs", perContext: true, progress: true },
  runtime: { samplerThreads: 1, checkpointEvery: 1000 }
}

/** What a user may write: every field optional, no field unknown. */
export const ConfigInput = objectExpected(
  Schema.Struct({
    $schema: exactOptional(Schema.String),
    name: exactOptional(Name),
    seed: exactOptional(Seed),
    task: section(TaskConfig),
    model: section(ModelConfig),
    training: section(TrainingConfig),
    evaluation: exactOptional(objectExpected(EvaluationInput, "an object")),
    references: section(ReferencesConfig),
    earlyStop: section(EarlyStopConfig),
    output: section(OutputConfig),
    runtime: section(RuntimeConfig)
  }),
  "a JSON object"
)
export type ConfigInput = typeof ConfigInput.Type

/** The concrete attention mask: linear and exp attention attend to all n + 1 tokens, softmax to the context only. */
export const resolveAttendToQuery = (model: Pick<ModelConfig, "attention" | "attendToQuery">): boolean =>
  model.attendToQuery === "auto" ? model.attention !== "softmax" : model.attendToQuery

/** Fills every missing field from {@link defaults}; pure. */
export const resolveConfig = (input: ConfigInput): ExperimentConfig => {
  const model = { ...defaults.model, ...input.model }
  return {
    name: input.name ?? defaults.name,
    seed: input.seed ?? defaults.seed,
    task: { ...defaults.task, ...input.task },
    model: { ...model, attendToQuery: resolveAttendToQuery(model) },
    training: { ...defaults.training, ...input.training },
    evaluation: { ...defaults.evaluation, ...input.evaluation, shift: { ...defaults.evaluation.shift, ...input.evaluation?.shift } },
    references: { ...defaults.references, ...input.references },
    earlyStop: { ...defaults.earlyStop, ...input.earlyStop },
    output: { ...defaults.output, ...input.output },
    runtime: { ...defaults.runtime, ...input.runtime }
  }
}

/** Combinations that each field allows alone but that make no experiment together. */
const crossFieldIssues = (config: ExperimentConfig): ReadonlyArray<ConfigIssue> => {
  const issues: Array<ConfigIssue> = [...trainingIssues(config.training)]
  if (config.earlyStop.basinDecided && config.model.attention === "linear") {
    issues.push({ path: "earlyStop.basinDecided", message: "linear attention learns no basin (no c_σ); use softmax or exp attention, or false" })
  }
  const { seed, seeds } = config.evaluation
  const repeated = seeds.filter((s, i) => s === seed || seeds.indexOf(s) !== i)
  if (repeated.length > 0) {
    issues.push({
      path: "evaluation.seeds",
      message: `expected seeds different from each other and from evaluation.seed (${seed}), got ${JSON.stringify(seeds)}: ${repeated.join(", ")} would score the same set twice`
    })
  }
  issues.push(...shiftIssues(config.task, config.evaluation.shift))
  return issues
}

/** A shift that the task family cannot take, or that asks for more classes than the context may hold. */
export const shiftIssues = (task: TaskConfig, shift: EvaluationShift): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const at = (field: keyof EvaluationShift, message: string) => issues.push({ path: `evaluation.shift.${field}`, message })
  if (task.family !== "cluster") {
    const clusterOnly = (field: keyof EvaluationShift, neutral: unknown) => {
      if (shift[field] !== neutral) {
        at(field, `shifts the class composition or noise of cluster tasks; task.family "${task.family}" draws labels from the nearest class vector and has neither (got ${JSON.stringify(shift[field])})`)
      }
    }
    clusterOnly("noise", null)
    clusterOnly("imbalance", 1)
    clusterOnly("queryClass", "any")
    clusterOnly("contextClasses", null)
  }
  const available = shift.queryClass === "absent" ? task.C - 1 : task.C
  if (shift.contextClasses !== null && shift.contextClasses > available) {
    at(
      "contextClasses",
      `expected at most ${available} classes (task.C = ${task.C}${shift.queryClass === "absent" ? ", without the query's class" : ""}), got ${shift.contextClasses}`
    )
  }
  if (shift.queryClass === "absent" && task.queryClassInContext) {
    at("queryClass", `"absent" contradicts task.queryClassInContext = true`)
  }
  return issues
}

/** Decodes a parsed JSON value into a resolved config, or every problem at once. */
export const decodeConfig = decoderOf(ConfigInput, resolveConfig, crossFieldIssues)
