/**
 * The config of a regression experiment: von Oswald et al. (2023), linear regression learned in context by K layers of
 * linear self-attention, and Cheng, Chen & Sra (2024), functions drawn from a Gaussian process learned by attention
 * with a non-linear activation. Same shape as the classification config (sections, exact-optional input, defaults,
 * every problem reported by path); `task.family` tells the two apart.
 */
import { ParseResult, Schema } from "effect"
import {
  Bool,
  BackendChoice,
  type ConfigIssue,
  EngineChoice,
  EvaluationConfig,
  decoderOf,
  INIT_DISTRIBUTIONS,
  exactOptional,
  expecting,
  Count,
  LogRange,
  Name,
  NonNegativeNumber,
  objectExpected,
  oneOf,
  OutputConfig,
  PositiveNumber,
  RuntimeConfig,
  section,
  Seed,
  TRAINING_OPTION_DEFAULTS,
  TrainingConfig,
  trainingIssues
} from "../ConfigSchema.js"

export const REGRESSION_FAMILIES = ["linear-regression", "gp", "random-features"] as const
export const RegressionFamily = oneOf(...REGRESSION_FAMILIES)
export type RegressionFamily = typeof RegressionFamily.Type

/**
 * The covariance k(u, v) = κ(u·v) of the functions drawn: u·v; the ReLU (degree-1 arc-cosine) kernel; exp(u·v /
 * bandwidth); or half of each of the last two (GaussianProcess has the formulas).
 */
export const FunctionKernel = oneOf("linear", "relu", "exp", "mixture")
export type FunctionKernel = typeof FunctionKernel.Type

export const InputDomain = oneOf("auto", "cube", "sphere")

export const RegressionTaskConfig = Schema.Struct({
  family: RegressionFamily,
  d: Count(4_096),
  n: Count(100_000),
  /** "cube": uniform in [−1, 1]^d (von Oswald); "sphere": uniform on S^{d−1} (Cheng et al.); "auto" picks by family. */
  inputs: InputDomain,
  kernel: FunctionKernel,
  bandwidth: PositiveNumber,
  /** Standard deviation of the Gaussian label noise, on context labels and query targets alike. */
  noise: NonNegativeNumber,
  /** "random-features": the width m of the fixed random tanh layer the targets are linear in (regression/FeatureMap). */
  features: Count(100_000),
  /** "random-features": the layer's gain g (weights N(0, g²/d), biases N(0, g²/3)). */
  featureGain: PositiveNumber,
  /** "random-features": the seed the layer is drawn from (one layer for every task, run and seed of a sweep). */
  featureSeed: Seed
})
export type RegressionTaskConfig = typeof RegressionTaskConfig.Type

export const RegressionActivation = oneOf("linear", "relu", "exp", "softmax")
export type RegressionActivation = typeof RegressionActivation.Type

/**
 * The initial weights' distribution: the shared ones (domain/Initialisation), each weight with standard deviation
 * `initScale`, and "von-oswald": von Oswald et al.'s initialisation of deep linear self-attention (their code's
 * init_scale / num_layers), for our merged weights. Each layer's four projections W_Q, W_K, W_V, W_O (D × D) are drawn
 * as Haiku's VarianceScaling(initScale / layers) draws them (fan-in D, truncated normal, variance initScale / (layers·D))
 * and multiplied into A = W_Kᵀ W_Q and P = W_O W_V, so every entry of A and P has standard deviation
 * initScale / (layers·√D): the small initial update that their deep models start from (initScale 0.002 in their code).
 * Other regression-only initialisations get their name here and their case in services/regression/Trainer's
 * initRegressionWeights.
 */
export const RegressionInitDistribution = oneOf(...INIT_DISTRIBUTIONS, "von-oswald")
export type RegressionInitDistribution = typeof RegressionInitDistribution.Type

/**
 * A learned MLP embedding before the attention layers (regression/Model): `hidden` widths with `activation`, then a
 * linear map to `features` dimensions that the tokens carry instead of x. Trained on TensorFlow.js; the weights are
 * drawn LeCun-normal (N(0, 1/fan-in)), the biases 0.
 */
export const EmbeddingConfig = Schema.Struct({
  hidden: expecting(Schema.Array(Count(100_000)), "a list of positive integers (hidden widths)"),
  features: Count(100_000),
  activation: oneOf("tanh", "relu")
})
export type EmbeddingConfig = typeof EmbeddingConfig.Type
export const EMBEDDING_DEFAULTS: EmbeddingConfig = { hidden: [64], features: 16, activation: "tanh" }

export const RegressionModelConfig = Schema.Struct({
  attention: RegressionActivation,
  layers: Count(64),
  /** One layer's weights applied `layers` times. */
  recurrent: Bool,
  /**
   * "full": every entry of A and P is trained. "kernel": A reads the inputs only (A = [[A_xx, 0], [0, 0]]) and P writes
   * the label slot from the label only (P = [[0, 0], [0, p]]), the form of functional GD with a learned input metric
   * (Cheng et al.'s parametrisation). It keeps deep exp attention from feeding labels into exponents.
   */
  form: oneOf("full", "kernel"),
  /** The standard deviation of every trained initial weight. */
  initScale: PositiveNumber,
  initDistribution: RegressionInitDistribution,
  /** null: the tokens carry x; an object: a learned MLP embedding of x (von Oswald et al.'s deep representations). */
  embedding: Schema.NullOr(EmbeddingConfig),
  engine: EngineChoice,
  backend: BackendChoice
})
export type RegressionModelConfig = typeof RegressionModelConfig.Type

/**
 * The model section as written: an embedding may leave out any of its fields (EMBEDDING_DEFAULTS fill them in). Null,
 * or an object whose problems are reported field by field (a plain union would add "Expected null" to each).
 */
const EmbeddingInput = Schema.partialWith(EmbeddingConfig, { exact: true })
const RegressionModelInput = Schema.Struct({
  ...RegressionModelConfig.fields,
  embedding: Schema.transformOrFail(Schema.Unknown, Schema.NullOr(Schema.typeSchema(EmbeddingInput)), {
    strict: true,
    decode: (value, options, ast) =>
      value === null
        ? ParseResult.succeed(null)
        : typeof value === "object" && !Array.isArray(value)
          ? ParseResult.decodeUnknown(EmbeddingInput)(value, options)
          : ParseResult.fail(new ParseResult.Type(ast, value, `expected null or an object { hidden, features, activation }, got ${JSON.stringify(value)}`)),
    encode: ParseResult.succeed
  })
})

export const RegressionReferencesConfig = Schema.Struct({
  /** Tasks of the grid-search set, on which every reference's parameters are chosen. */
  gridSize: Count(10_000_000),
  gridSeed: Seed,
  /** Step sizes η scanned (then refined) for K-step (functional) GD. */
  eta: LogRange,
  /** Kernel scales s scanned for exp and softmax attention (linear and ReLU absorb s into η). */
  scale: LogRange,
  /** Adam iterations fitting GD++'s (γ_k, η_k) on the grid-search set (linear-regression tasks, 2+ layers). */
  gdPlusPlusIterations: Count(1_000_000),
  /** Tasks of the grid-search set (the first ones) that the GD++ fit uses: it is full-batch autodiff through K layers. */
  gdPlusPlusTasks: Count(10_000_000),
  /** Points α ∈ [0, 1] of the interpolation (1 − α)·trained + α·constructed weights. */
  interpolationPoints: Count(10_000)
})
export type RegressionReferencesConfig = typeof RegressionReferencesConfig.Type

export const RegressionConfig = Schema.Struct({
  name: Name,
  seed: Seed,
  task: RegressionTaskConfig,
  model: RegressionModelConfig,
  training: TrainingConfig,
  evaluation: EvaluationConfig,
  references: RegressionReferencesConfig,
  output: OutputConfig,
  runtime: RuntimeConfig
})
export type RegressionConfig = typeof RegressionConfig.Type

/**
 * The random-features family's fields, added after the first results: at these values every other family samples
 * exactly as before (RunId's NEUTRAL_FIELDS leaves them out of the run id).
 */
export const RANDOM_FEATURES_DEFAULTS = { features: 16, featureGain: 2, featureSeed: 0 } as const

/** Defaults: von Oswald et al.'s setting (d = n = 10, batch 2048, Adam) with one linear self-attention layer. */
export const regressionDefaults: RegressionConfig = {
  name: "regression",
  seed: 0,
  task: {
    family: "linear-regression",
    d: 10,
    n: 10,
    inputs: "auto",
    kernel: "linear",
    bandwidth: 1,
    noise: 0,
    ...RANDOM_FEATURES_DEFAULTS
  },
  model: {
    attention: "linear",
    layers: 1,
    recurrent: false,
    form: "full",
    initScale: 0.02,
    initDistribution: "normal",
    embedding: null,
    engine: "auto",
    backend: "auto"
  },
  training: {
    optimizer: "adam",
    learningRate: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    ...TRAINING_OPTION_DEFAULTS,
    batchSize: 2048,
    steps: 5000
  },
  evaluation: { every: 250, logSpacedPoints: 6, size: 10000, seed: 1001 },
  references: {
    gridSize: 4000,
    gridSeed: 2002,
    eta: { min: 1e-3, max: 1e3, count: 61 },
    scale: { min: 0.01, max: 100, count: 41 },
    gdPlusPlusIterations: 400,
    gdPlusPlusTasks: 1000,
    interpolationPoints: 11
  },
  output: { dir: "runs", perContext: true, progress: true },
  runtime: { samplerThreads: 1, checkpointEvery: 1000 }
}

export const RegressionConfigInput = objectExpected(
  Schema.Struct({
    $schema: exactOptional(Schema.String),
    name: exactOptional(Name),
    seed: exactOptional(Seed),
    task: section(RegressionTaskConfig),
    model: section(RegressionModelInput),
    training: section(TrainingConfig),
    evaluation: section(EvaluationConfig),
    references: section(RegressionReferencesConfig),
    output: section(OutputConfig),
    runtime: section(RuntimeConfig)
  }),
  "a JSON object"
)
export type RegressionConfigInput = typeof RegressionConfigInput.Type

export const resolveRegressionConfig = (input: RegressionConfigInput): RegressionConfig => {
  const task = { ...regressionDefaults.task, ...input.task }
  return {
    name: input.name ?? regressionDefaults.name,
    seed: input.seed ?? regressionDefaults.seed,
    task: { ...task, inputs: task.inputs === "auto" ? (task.family === "gp" ? "sphere" : "cube") : task.inputs },
    model: {
      ...regressionDefaults.model,
      ...input.model,
      embedding: input.model?.embedding === undefined || input.model.embedding === null ? null : { ...EMBEDDING_DEFAULTS, ...input.model.embedding }
    },
    training: { ...regressionDefaults.training, ...input.training },
    evaluation: { ...regressionDefaults.evaluation, ...input.evaluation },
    references: { ...regressionDefaults.references, ...input.references },
    output: { ...regressionDefaults.output, ...input.output },
    runtime: { ...regressionDefaults.runtime, ...input.runtime }
  }
}

/** Combinations each field allows alone but that make no experiment together. */
const crossFieldIssues = (config: RegressionConfig): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = trainingIssues(config.training)
  if (config.task.family !== "gp" && config.task.kernel !== "linear") {
    issues.push({
      path: "task.kernel",
      message: `${config.task.family} tasks are linear in their ${config.task.family === "random-features" ? "features" : "inputs"}; use family "gp" for the ${JSON.stringify(config.task.kernel)} kernel`
    })
  }
  if (config.task.family === "gp" && (config.task.kernel === "relu" || config.task.kernel === "mixture") && config.task.inputs !== "sphere") {
    issues.push({ path: "task.inputs", message: `the ${JSON.stringify(config.task.kernel)} kernel is defined for inputs on the sphere; use "sphere"` })
  }
  if (config.model.embedding !== null && config.model.engine === "fused") {
    issues.push({ path: "model.engine", message: `the fused engine has no embedding; use "auto" or "tfjs" with model.embedding` })
  }
  return issues
}

export const decodeRegressionConfig = decoderOf(RegressionConfigInput, resolveRegressionConfig, crossFieldIssues)

/** Whether a resolved config of any kind is a regression config (its task family is a regression family). */
export const isRegressionConfig = (config: { readonly task: { readonly family: string } }): config is RegressionConfig =>
  (REGRESSION_FAMILIES as ReadonlyArray<string>).includes(config.task.family)
