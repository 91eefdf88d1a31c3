/**
 * What every experiment kind's config is made of: the field types with user-facing messages ("expected a positive
 * integer, got -3"), the sections every kind shares (training, evaluation, output, runtime), how a kind's input schema
 * is decoded into its resolved config with every problem located by its dotted path, and the canonical JSON that run
 * ids are hashed from. Each kind's own config (sections, defaults, cross-field checks) lives in its folder.
 */
import { Either, ParseResult, Schema } from "effect"

/** The longest echo of a user's value in a message. */
const SHOWN_CHARACTERS = 60

/** A user's value as a message echoes it: JSON, cut to SHOWN_CHARACTERS ("nothing" for a missing value). */
export const showValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    // Too deeply nested for the stack.
    text = Array.isArray(value) ? "[[[…" : "{…"
  }
  return cut(text, SHOWN_CHARACTERS)
}

/** A text cut to `max` characters (code points: an emoji is not split), "…" marking the cut. */
export const cut = (text: string, max: number): string => {
  if (text.length <= max) return text
  const chars = Array.from(text)
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : text
}

/** The longest path a message shows (a path holds the keys of the user's file, which may be anything). */
const SHOWN_PATH = 80
const show = showValue

/** Attaches a user-facing message "expected <what>, got <value>" that replaces the nested failure messages. */
export const expecting = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({
    message: (issue) => ({ message: `expected ${what}, got ${show(issue.actual)}`, override: true })
  }) as S

/** For objects: a message when the value is not an object at all; problems inside keep their own messages. */
export const objectExpected = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({ message: (issue) => `expected ${what}, got ${show(issue.actual)}` }) as S

export const PositiveInt = expecting(Schema.Int.pipe(Schema.positive()), "a positive integer")

/**
 * An integer from `min` (0 or 1) up to a sane bound for what it counts: past the bound a run could not fit in memory or
 * finish (a config with `task.n: 1e9` grew to 22 GB before the OOM killer ended it). The message names the bound only
 * when the value is past it ("expected a positive integer of at most 100,000, got 1000000000").
 */
export const Count = (max: number, min: 0 | 1 = 1) => {
  const what = min === 1 ? "a positive integer" : "a non-negative integer"
  return Schema.Int.pipe(Schema.between(min, max)).annotations({
    message: (issue) => ({
      message: `expected ${what}${typeof issue.actual === "number" && issue.actual > max ? ` of at most ${max.toLocaleString("en-US")}` : ""}, got ${show(issue.actual)}`,
      override: true
    })
  })
}
export const NonNegativeInt = expecting(Schema.Int.pipe(Schema.nonNegative()), "a non-negative integer")
export const Seed = expecting(Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER)), "a non-negative integer seed")
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
  Schema.Struct({ min: PositiveNumber, max: PositiveNumber, count: Count(10_000) }).pipe(
    Schema.filter((r) => r.min <= r.max || `min (${r.min}) must not exceed max (${r.max})`)
  ),
  "an object { min, max, count } with 0 < min ≤ max and an integer count from 1 to 10,000"
)
export type LogRange = typeof LogRange.Type

/**
 * The distribution of every initial weight, with standard deviation `initScale` whatever the shape: "normal";
 * "uniform" on [−√3 s, √3 s]; "truncated-normal" (a normal cut at ±2σ, rescaled to standard deviation s). The
 * sampling is domain/Initialisation's.
 */
export const INIT_DISTRIBUTIONS = ["normal", "uniform", "truncated-normal"] as const
export const InitDistribution = oneOf(...INIT_DISTRIBUTIONS)
export type InitDistribution = typeof InitDistribution.Type

export const EngineChoice = oneOf("auto", "fused", "tfjs")
export type EngineChoice = typeof EngineChoice.Type
export const BackendChoice = oneOf("auto", "tfjs-node", "wasm", "cpu")
export type BackendChoice = typeof BackendChoice.Type

const UnitInterval = expecting(Schema.Number.pipe(Schema.between(0, 1)), "a number in [0, 1]")
const DecayFactor = expecting(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)), "a number in (0, 1]")
const ClipNorm = expecting(Schema.NullOr(Schema.Number.pipe(Schema.positive(), Schema.finite())), "a positive number, or null for no clipping")

/**
 * How every kind trains: the optimizer and its constants, the learning-rate schedule (a function of the step, see
 * domain/LearningRate), gradient-norm clipping, the batch size and the number of steps. The fields after `epsilon`
 * were added after the first results; {@link TRAINING_OPTION_DEFAULTS} holds their defaults, which reproduce the
 * training from before they existed.
 */
export const TrainingConfig = Schema.Struct({
  /** "adam" (Kingma & Ba) or "sgd" (with heavy-ball momentum, torch.optim.SGD's form). */
  optimizer: oneOf("adam", "sgd"),
  /** The peak rate η: the rate after warm-up, before decay. */
  learningRate: PositiveNumber,
  beta1: Probability,
  beta2: Probability,
  epsilon: PositiveNumber,
  /** SGD's momentum μ (0: plain SGD); Adam ignores it. */
  momentum: Probability,
  /** The decay after warm-up: "constant", "cosine" (to minLearningRateFactor·η at the last step) or "step". */
  schedule: oneOf("constant", "cosine", "step"),
  /** Steps of linear warm-up from η/warmupSteps to η (0: none). */
  warmupSteps: NonNegativeInt,
  /** Where a cosine decay ends, as a fraction of η. */
  minLearningRateFactor: UnitInterval,
  /** Step decay: the rate is multiplied by decayFactor every decayEvery steps after warm-up. */
  decayEvery: PositiveInt,
  decayFactor: DecayFactor,
  /** The largest global L2 norm of the gradient (over every trained weight); larger gradients are rescaled to it. */
  clipGradientNorm: ClipNorm,
  batchSize: Count(1_000_000),
  steps: Count(1_000_000_000, 0)
})
export type TrainingConfig = typeof TrainingConfig.Type

/**
 * The defaults of the training options added after the first results, the same for every kind: constant rate, no
 * warm-up, no clipping. At these values a run trains exactly as before the options existed (RunId's NEUTRAL_FIELDS).
 */
export const TRAINING_OPTION_DEFAULTS = {
  momentum: 0.9,
  schedule: "constant",
  warmupSteps: 0,
  minLearningRateFactor: 0,
  decayEvery: 1000,
  decayFactor: 0.1,
  clipGradientNorm: null
} as const satisfies Partial<TrainingConfig>

/** Training options that each field allows alone but that make no schedule together. */
export const trainingIssues = (training: TrainingConfig): Array<ConfigIssue> =>
  training.warmupSteps > training.steps
    ? [{ path: "training.warmupSteps", message: `the warm-up (${training.warmupSteps} steps) is longer than training (training.steps = ${training.steps})` }]
    : []

export const EvaluationConfig = Schema.Struct({
  every: PositiveInt,
  logSpacedPoints: Count(1_000, 0),
  size: Count(10_000_000),
  seed: Seed
})
export type EvaluationConfig = typeof EvaluationConfig.Type

export const OutputConfig = Schema.Struct({
  dir: expecting(Schema.String.pipe(Schema.minLength(1)), "a non-empty folder path"),
  perContext: Bool,
  progress: Bool
})
export type OutputConfig = typeof OutputConfig.Type

/** How a run executes, not what it computes: left out of the run id. */
export const RuntimeConfig = Schema.Struct({
  samplerThreads: Count(256, 0),
  checkpointEvery: PositiveInt
})
export type RuntimeConfig = typeof RuntimeConfig.Type

/** What every kind's resolved config has: the run id, the sweep and the run folder rely on these fields. */
export interface BaseConfig {
  readonly name: string
  readonly seed: number
  /** The task section: its family selects the kind; the other fields are the kind's. */
  readonly task: { readonly family: string; readonly [field: string]: unknown }
  readonly training: TrainingConfig
  readonly evaluation: EvaluationConfig
  readonly output: OutputConfig
  readonly runtime: RuntimeConfig
}

export const exactOptional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })
export const section = <F extends Schema.Struct.Fields>(struct: Schema.Struct<F>) =>
  exactOptional(objectExpected(Schema.partialWith(struct, { exact: true }), "an object"))

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
  issue.path === "" ? issue.message : `${cut(issue.path, SHOWN_PATH)}: ${issue.message}`

/**
 * A kind's decoder: the input schema (every field optional, unknown keys refused) with every problem at once, then the
 * defaults filled in by `resolve`, then the combinations each field allows alone but that make no experiment together.
 */
export const decoderOf =
  <I, C>(input: Schema.Schema<I, any>, resolve: (input: I) => C, crossFieldIssues: (config: C) => ReadonlyArray<ConfigIssue> = () => []) =>
  (value: unknown): Either.Either<C, ReadonlyArray<ConfigIssue>> =>
    Schema.decodeUnknownEither(input, { errors: "all", onExcessProperty: "error" })(value).pipe(
      Either.mapLeft((error) =>
        ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({ path: formatPath(issue.path), message: issue.message }))
      ),
      Either.map(resolve),
      Either.flatMap((config) => {
        const issues = crossFieldIssues(config)
        return issues.length > 0 ? Either.left(issues) : Either.right(config)
      })
    )

/** JSON with object keys sorted at every level: the canonical text that run ids are hashed from. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )
