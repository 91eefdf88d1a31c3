/**
 * Run identity: a hash of the canonical resolved config. The output and runtime sections are left out, since where a
 * run reports and how it executes do not change what it computes.
 *
 * Options added after results were stored must not change the id of a run that does not use them: each is listed in
 * NEUTRAL_FIELDS with the value that reproduces the behaviour from before it existed, and a config holding that value
 * is hashed without the field. A test pins the ids of the example configs.
 */
import { createHash } from "node:crypto"
import { type BaseConfig, canonicalJson, TRAINING_OPTION_DEFAULTS } from "./ConfigSchema.js"

/**
 * Config fields (dotted paths, any kind) added after the first results, with their neutral values: the value that
 * computes exactly what the config computed before the field existed. Add a new field's path and neutral value here.
 */
export const NEUTRAL_FIELDS: ReadonlyArray<readonly [path: string, neutral: unknown]> = [
  // The training options (shared by every kind): constant rate, no warm-up, no clipping, Adam as before.
  ...Object.entries(TRAINING_OPTION_DEFAULTS).map(([field, neutral]) => [`training.${field}`, neutral] as const),
  // The initial weights' distribution (both kinds' model section).
  ["model.initDistribution", "normal"],
  // Classification: the construction's a and b added to the initial weights.
  ["model.initA", 0],
  ["model.initB", 0],
  // Classification: stopping once the basin is decided (off), as one section (classification/Config's
  // EARLY_STOP_DEFAULTS; the run-id test fails if the two part).
  ["earlyStop", { basinDecided: false, patience: 2000, minCSigma: 1 }],
  // Regression: the random-features family's fields (regression/Config's RANDOM_FEATURES_DEFAULTS; the run-id test
  // fails if the two part).
  ["task.features", 16],
  ["task.featureGain", 2],
  ["task.featureSeed", 0],
  // Regression: no learned embedding before the attention layers.
  ["model.embedding", null],
  // Classification: every block trained; no extra evaluation sets, no shift of the evaluation tasks.
  ["model.restrictBlocks", false],
  ["evaluation.seeds", []],
  ["evaluation.shift", { inputScale: 1, noise: null, imbalance: 1, queryClass: "any", contextClasses: null }]
]

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** The config without the fields that hold their neutral value. */
export const withoutNeutralFields = (
  config: Record<string, unknown>,
  neutralFields: ReadonlyArray<readonly [path: string, neutral: unknown]> = NEUTRAL_FIELDS
): Record<string, unknown> => {
  const drop = (node: Record<string, unknown>, keys: ReadonlyArray<string>, neutral: unknown): Record<string, unknown> => {
    const [head, ...rest] = keys
    if (head === undefined || !(head in node)) return node
    if (rest.length === 0) {
      if (canonicalJson(node[head]) !== canonicalJson(neutral)) return node
      const { [head]: _dropped, ...kept } = node
      return kept
    }
    const child = node[head]
    return isObject(child) ? { ...node, [head]: drop(child, rest, neutral) } : node
  }
  return neutralFields.reduce((acc, [path, neutral]) => drop(acc, path.split("."), neutral), config)
}

export const configHash = (config: BaseConfig): string => {
  const { output: _output, runtime: _runtime, ...identity } = config
  return createHash("sha256").update(canonicalJson(withoutNeutralFields(identity))).digest("hex").slice(0, 12)
}

/** The run's folder name: readable name, then the hash. */
export const runIdOf = (config: BaseConfig): string => `${config.name}-${configHash(config)}`
