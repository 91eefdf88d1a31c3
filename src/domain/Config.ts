/**
 * The experiment config: what a user writes (every field optional, unknown keys rejected) and what a run uses (every
 * field filled from the defaults). The resolved config is what is hashed into the run id and stored with the run.
 */
import { Either, ParseResult, Schema } from "effect"

const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (value === undefined) return "nothing"
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** Attaches a user-facing message "expected <what>, got <value>" that replaces the nested failure messages. */
export const expecting = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({
    message: (issue) => ({ message: `expected ${what}, got ${show(issue.actual)}`, override: true })
  }) as S

/** For objects: a message when the value is not an object at all; problems inside keep their own messages. */
export const objectExpected = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({ message: (issue) => `expected ${what}, got ${show(issue.actual)}` }) as S

export const PositiveInt = expecting(Schema.Int.pipe(Schema.positive()), "a positive integer")
export const NonNegativeInt = expecting(Schema.Int.pipe(Schema.nonNegative()), "a non-negative integer")
export const Seed = expecting(Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER)), "a non-negative integer seed")
const AtLeastTwo = expecting(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)), "an integer ≥ 2")
export const PositiveNumber = expecting(Schema.Number.pipe(Schema.positive(), Schema.finite()), "a positive number")
export const NonNegativeNumber = expecting(Schema.Number.pipe(Schema.nonNegative(), Schema.finite()), "a non-negative number")
export const FiniteNumber = expecting(Schema.Number.pipe(Schema.finite()), "a finite number")
export const Probability = expecting(Schema.Number.pipe(Schema.greaterThanOrEqualTo(0), Schema.lessThan(1)), "a number in [0, 1)")
export const Bool = expecting(Schema.Boolean, "true or false")
export const Name = expecting(
  Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)),
  "a name of letters, digits, '.', '_' or '-' (at most 64 characters)"
)
export const oneOf = <const L extends ReadonlyArray<string>>(...literals: L) =>
  expecting(Schema.Literal(...literals), `one of ${literals.map((l) => JSON.stringify(l)).join(" | ")}`)

/** A log-spaced range of positive values; the GD reference grids use it on both signs. */
export const LogRange = expecting(
  Schema.Struct({ min: PositiveNumber, max: PositiveNumber, count: PositiveInt }).pipe(
    Schema.filter((r) => r.min <= r.max || `min (${r.min}) must not exceed max (${r.max})`)
  ),
  "an object { min, max, count } with 0 < min ≤ max and a positive integer count"
)
export type LogRange = typeof LogRange.Type

export const TaskFamily = expecting(
  Schema.Literal("cluster", "voronoi"),
  `one of "cluster" | "voronoi" (classification) or "linear-regression" | "gp" (regression)`
)
export type TaskFamily = typeof TaskFamily.Type

export const TaskConfig = Schema.Struct({
  family: TaskFamily,
  d: PositiveInt,
  C: AtLeastTwo,
  n: PositiveInt,
  noise: NonNegativeNumber,
  balanced: Bool,
  queryClassInContext: Bool
})
export type TaskConfig = typeof TaskConfig.Type

export const Attention = oneOf("linear", "softmax", "exp")
export type Attention = typeof Attention.Type
export const EngineChoice = oneOf("auto", "fused", "tfjs")
export type EngineChoice = typeof EngineChoice.Type
export const BackendChoice = oneOf("auto", "tfjs-node", "wasm", "cpu")
export type BackendChoice = typeof BackendChoice.Type

const AttendToQuery = expecting(Schema.Union(Schema.Literal("auto"), Schema.Boolean), `"auto", true or false`)

export const ModelConfig = Schema.Struct({
  attention: Attention,
  attendToQuery: AttendToQuery,
  initScale: PositiveNumber,
  expShift: FiniteNumber,
  engine: EngineChoice,
  backend: BackendChoice
})
export type ModelConfig = typeof ModelConfig.Type

export const TrainingConfig = Schema.Struct({
  optimizer: oneOf("adam"),
  learningRate: PositiveNumber,
  beta1: Probability,
  beta2: Probability,
  epsilon: PositiveNumber,
  batchSize: PositiveInt,
  steps: NonNegativeInt
})
export type TrainingConfig = typeof TrainingConfig.Type

export const EvaluationConfig = Schema.Struct({
  every: PositiveInt,
  logSpacedPoints: NonNegativeInt,
  size: PositiveInt,
  seed: Seed
})
export type EvaluationConfig = typeof EvaluationConfig.Type

export const ReferencesConfig = Schema.Struct({
  gridSize: PositiveInt,
  gridSeed: Seed,
  cSigma: LogRange,
  scale: LogRange,
  refine: Bool,
  scanSize: PositiveInt
})
export type ReferencesConfig = typeof ReferencesConfig.Type

export const OutputConfig = Schema.Struct({
  dir: expecting(Schema.String.pipe(Schema.minLength(1)), "a non-empty folder path"),
  perContext: Bool,
  progress: Bool
})
export type OutputConfig = typeof OutputConfig.Type

/** How a run executes, not what it computes: left out of the run id. */
export const RuntimeConfig = Schema.Struct({
  samplerThreads: NonNegativeInt,
  checkpointEvery: PositiveInt
})
export type RuntimeConfig = typeof RuntimeConfig.Type

/** The fully resolved config of one run. */
export const ExperimentConfig = Schema.Struct({
  name: Name,
  seed: Seed,
  task: TaskConfig,
  model: ModelConfig,
  training: TrainingConfig,
  evaluation: EvaluationConfig,
  references: ReferencesConfig,
  output: OutputConfig,
  runtime: RuntimeConfig
})
export type ExperimentConfig = typeof ExperimentConfig.Type

/** Defaults: the paper's main setting (d, C, n) = (5, 5, 100), cluster tasks with noise 0.5 (spec §1–§4). */
export const defaults: ExperimentConfig = {
  name: "run",
  seed: 0,
  task: { family: "cluster", d: 5, C: 5, n: 100, noise: 0.5, balanced: false, queryClassInContext: false },
  model: { attention: "softmax", attendToQuery: "auto", initScale: 0.02, expShift: 0, engine: "auto", backend: "auto" },
  training: {
    optimizer: "adam",
    learningRate: 1e-2,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    batchSize: 512,
    steps: 12000
  },
  evaluation: { every: 500, logSpacedPoints: 8, size: 10000, seed: 1001 },
  references: {
    gridSize: 10000,
    gridSeed: 2002,
    cSigma: { min: 0.1, max: 1000, count: 61 },
    scale: { min: 0.01, max: 3162, count: 41 },
    refine: true,
    scanSize: 2000
  },
  output: { dir: "runs", perContext: true, progress: true },
  runtime: { samplerThreads: 1, checkpointEvery: 1000 }
}

export const exactOptional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })
export const section = <F extends Schema.Struct.Fields>(struct: Schema.Struct<F>) =>
  exactOptional(objectExpected(Schema.partialWith(struct, { exact: true }), "an object"))

/** What a user may write: every field optional, no field unknown. */
export const ConfigInput = objectExpected(
  Schema.Struct({
    $schema: exactOptional(Schema.String),
    name: exactOptional(Name),
    seed: exactOptional(Seed),
    task: section(TaskConfig),
    model: section(ModelConfig),
    training: section(TrainingConfig),
    evaluation: section(EvaluationConfig),
    references: section(ReferencesConfig),
    output: section(OutputConfig),
    runtime: section(RuntimeConfig)
  }),
  "a JSON object"
)
export type ConfigInput = typeof ConfigInput.Type

/** One problem with a config, located by its dotted path. */
export interface ConfigIssue {
  readonly path: string
  readonly message: string
}

export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`),
    ""
  )

export const formatIssue = (issue: ConfigIssue): string =>
  issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`

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
    evaluation: { ...defaults.evaluation, ...input.evaluation },
    references: { ...defaults.references, ...input.references },
    output: { ...defaults.output, ...input.output },
    runtime: { ...defaults.runtime, ...input.runtime }
  }
}

const decodeInput = Schema.decodeUnknownEither(ConfigInput, { errors: "all", onExcessProperty: "error" })

/** Decodes a parsed JSON value into a resolved config, or every problem at once. */
export const decodeConfig = (value: unknown): Either.Either<ExperimentConfig, ReadonlyArray<ConfigIssue>> =>
  decodeInput(value).pipe(
    Either.mapLeft((error) =>
      ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
        path: formatPath(issue.path),
        message: issue.message
      }))
    ),
    Either.map(resolveConfig)
  )

/** JSON with object keys sorted at every level: the canonical text that run ids are hashed from. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )
