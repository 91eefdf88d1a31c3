/**
 * Sweeps: a config may declare axes over any of its fields (by dotted path) and a list of seeds. The sweep expands to
 * one run per combination, each a complete config whose id is the hash of its canonical resolved form. A config
 * without a sweep section is a sweep of one.
 */
import { Either, Schema } from "effect"
import { type BaseConfig, canonicalJson, type ConfigIssue } from "./ConfigSchema.js"
import { runIdOf, withoutNeutralFields } from "./RunId.js"

/**
 * How configs of one experiment kind are read: the task families that select the kind, its defaults (the resolved
 * config of an empty file) and its decoder (every problem at once, each with its path).
 */
export interface ConfigKind<C extends BaseConfig = BaseConfig> {
  /** The kind's name: "classification", "regression". */
  readonly name: string
  /** The values of `task.family` whose configs this kind decodes. */
  readonly families: ReadonlyArray<string>
  readonly defaults: C
  readonly decode: (value: unknown) => Either.Either<C, ReadonlyArray<ConfigIssue>>
}

/** A run's state in a sweep's manifest. */
export type RunState = "pending" | "running" | "done" | "failed"

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

const familyOf = (value: unknown): unknown => (isObject(value) && isObject(value["task"]) ? value["task"]["family"] : undefined)

/** The kind a raw (undecoded) config belongs to: the one that names its task family, else the first (the default). */
export const kindOfInput = <K extends ConfigKind<any>>(kinds: ReadonlyArray<K>, value: unknown): K => {
  const family = familyOf(value)
  return kinds.find((kind) => kind.families.includes(family as string)) ?? kinds[0]!
}

/**
 * Decodes a raw config with its kind's decoder. A family that no kind knows is decoded by the default kind, and its
 * problem names every kind's families.
 */
export const decodeWithKinds = (kinds: ReadonlyArray<ConfigKind<any>>, value: unknown): Either.Either<BaseConfig, ReadonlyArray<ConfigIssue>> => {
  const kind = kindOfInput(kinds, value)
  const family = familyOf(value)
  const everyFamily = kinds.map((k) => `${k.families.map((f) => JSON.stringify(f)).join(" | ")} (${k.name})`).join(" or ")
  return kind.decode(value).pipe(
    Either.mapLeft((issues) =>
      issues.map((issue) =>
        issue.path === "task.family" ? { path: issue.path, message: `expected one of ${everyFamily}, got ${JSON.stringify(family) ?? "nothing"}` } : issue
      )
    )
  )
}

const SweepSection = Schema.Struct({
  axes: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.NonEmptyArray(Schema.Unknown) }), {
    exact: true
  }),
  cases: Schema.optionalWith(Schema.NonEmptyArray(Schema.Record({ key: Schema.String, value: Schema.Unknown })), { exact: true }),
  seeds: Schema.optionalWith(Schema.NonEmptyArray(Schema.Int.pipe(Schema.nonNegative())), { exact: true })
}).annotations({
  message: (issue) =>
    `expected { axes?: { "<field path>": [values…] }, cases?: [{ "<field path>": value, … }, …], seeds?: [integers…] }, got ${JSON.stringify(issue.actual)}`
})

export interface SweepRun {
  readonly id: string
  readonly seed: number
  /** The value of every axis and of every field a case sets (resolved, for runs of the other cases), by path. */
  readonly axes: Readonly<Record<string, unknown>>
  readonly config: BaseConfig
}

export interface SweepPlan {
  readonly name: string
  /** The experiment kind of every run (a sweep does not mix kinds). */
  readonly kind: string
  readonly outputDir: string
  /** The values of every axis, and of every field the cases set: the columns that tell runs apart. */
  readonly axes: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly seeds: ReadonlyArray<number>
  /** What defines the sweep's results: the base config (without output and runtime), the axes and the seeds. */
  readonly definition: unknown
  readonly runs: ReadonlyArray<SweepRun>
}


/** A config field path (e.g. "task.n") exists when the defaults of the config's kind have a value there. */
const fieldExists = (path: string, defaults: BaseConfig): boolean => {
  let node: unknown = defaults
  for (const key of path.split(".")) {
    if (!isObject(node) || !(key in node)) return false
    node = node[key]
  }
  return path !== "" && !isObject(node)
}

const withValue = (raw: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> => {
  const [head, ...rest] = path.split(".")
  if (rest.length === 0) return { ...raw, [head!]: value }
  const child = isObject(raw[head!]) ? (raw[head!] as Record<string, unknown>) : {}
  return { ...raw, [head!]: withValue(child, rest.join("."), value) }
}

const cartesian = (axes: ReadonlyArray<readonly [string, ReadonlyArray<unknown>]>): Array<Record<string, unknown>> =>
  axes.reduce<Array<Record<string, unknown>>>(
    (combos, [path, values]) => combos.flatMap((combo) => values.map((value) => ({ ...combo, [path]: value }))),
    [{}]
  )

/**
 * The base config as a sweep's definition holds it: without the sections that do not change results, and without the
 * options added later at their neutral values, so that a sweep folder written before an option existed is resumed.
 */
const definitionBase = (config: BaseConfig) => {
  const { output: _output, runtime: _runtime, ...rest } = config
  return withoutNeutralFields(rest)
}

const valueAt = (config: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), config)

/**
 * Expands a parsed config file into its runs, each decoded by its kind; every problem (including those of each run's
 * config) at once. The runs are every combination of the axes' values, crossed with every case (a list of settings,
 * each setting a few fields: for studies that vary one thing at a time around a base), crossed with the seeds.
 */
export const planSweepWith = (kinds: ReadonlyArray<ConfigKind<any>>) => (value: unknown): Either.Either<SweepPlan, ReadonlyArray<ConfigIssue>> => {
  if (!isObject(value)) return Either.left([{ path: "", message: `expected a JSON object, got ${JSON.stringify(value)}` }])
  const { sweep, ...rawBase } = value
  const issues: Array<ConfigIssue> = []
  let axes: Record<string, ReadonlyArray<unknown>> = {}
  let seeds: ReadonlyArray<number> | undefined
  let cases: ReadonlyArray<Record<string, unknown>> | undefined
  const checkPath = (where: string, path: string) => {
    if (path === "seed") issues.push({ path: where, message: "use sweep.seeds for seeds" })
    else if (path === "name" || path.startsWith("output.") || path.startsWith("runtime.")) {
      issues.push({ path: where, message: "this field does not change results and cannot be an axis" })
    } else if (!fieldExists(path, kindOfInput(kinds, rawBase).defaults)) issues.push({ path: where, message: "no such config field" })
  }
  if (sweep !== undefined) {
    const decoded = Schema.decodeUnknownEither(SweepSection, { errors: "all", onExcessProperty: "error" })(sweep)
    if (Either.isLeft(decoded)) {
      issues.push({ path: "sweep", message: decoded.left.message.split("\n")[0]! })
    } else {
      axes = { ...decoded.right.axes }
      seeds = decoded.right.seeds
      cases = decoded.right.cases
      for (const path of Object.keys(axes)) checkPath(`sweep.axes.${path}`, path)
      cases?.forEach((settings, i) =>
        Object.keys(settings).forEach((path) => {
          if (path in axes) issues.push({ path: `sweep.cases[${i}].${path}`, message: "this field is an axis too; set it in one place" })
          else checkPath(`sweep.cases[${i}].${path}`, path)
        })
      )
    }
  }
  const kind = kindOfInput(kinds, rawBase)
  const base = decodeWithKinds(kinds, rawBase)
  if (Either.isLeft(base)) issues.push(...base.left)
  if (Either.isLeft(base)) return Either.left(issues)
  // Axes that name no usable field are reported above; the values of the others are still checked run by run, so
  // that every problem is reported at once.
  const badAxes = new Set(issues.map((issue) => issue.path))
  const usableAxes = Object.entries(axes).filter(([path]) => !badAxes.has(`sweep.axes.${path}`))

  const seedList = seeds ?? [base.right.seed]
  const caseList = cases ?? [{}]
  const usableCases = caseList.map((settings, i) =>
    Object.fromEntries(Object.entries(settings).filter(([path]) => !badAxes.has(`sweep.cases[${i}].${path}`)))
  )
  const casePaths = [...new Set(usableCases.flatMap((settings) => Object.keys(settings)))]
  const runs: Array<SweepRun> = []
  for (const axisCombo of cartesian(usableAxes)) for (const settings of usableCases) {
    const combo = { ...axisCombo, ...settings }
    for (const seed of seedList) {
      let raw: Record<string, unknown> = { ...rawBase, seed }
      for (const [path, v] of Object.entries(combo)) raw = withValue(raw, path, v)
      if (kindOfInput(kinds, raw) !== kind) {
        issues.push({
          path: "sweep.axes.task.family",
          message: `a sweep's runs must all be of one kind (${kinds.map((k) => k.name).join(", ")}); this one mixes ${kind.name} with ${kindOfInput(kinds, raw).name}`
        })
        continue
      }
      const decoded = decodeWithKinds(kinds, raw)
      if (Either.isLeft(decoded)) {
        const where = Object.entries(combo).map(([p, v]) => `${p} = ${JSON.stringify(v)}`).join(", ")
        for (const issue of decoded.left) {
          issues.push({ path: issue.path, message: `${issue.message} (in the run with ${where || `seed ${seed}`})` })
        }
        continue
      }
      // Every case field is a column: a run whose case does not set it shows its resolved value.
      const columns = { ...axisCombo, ...Object.fromEntries(casePaths.map((path) => [path, valueAt(decoded.right, path)])) }
      runs.push({ id: runIdOf(decoded.right), seed, axes: columns, config: decoded.right })
    }
  }
  if (issues.length > 0) return Either.left(dedupe(issues))
  const unique = new Map(runs.map((run) => [run.id, run]))
  return Either.right({
    name: base.right.name,
    kind: kind.name,
    outputDir: base.right.output.dir,
    axes: {
      ...axes,
      ...Object.fromEntries(
        casePaths.map((path) => [path, [...new Map(runs.map((run) => [canonicalJson(run.axes[path]), run.axes[path]])).values()]])
      )
    },
    seeds: seedList,
    definition: JSON.parse(
      canonicalJson({ base: definitionBase(base.right), axes, ...(cases === undefined ? {} : { cases }), seeds: seedList })
    ),
    runs: [...unique.values()]
  })
}

const dedupe = (issues: ReadonlyArray<ConfigIssue>) => {
  const seen = new Set<string>()
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** The differences between two JSON values, one line per changed path ("training.steps: 12000 → 20000"). */
export const describeChanges = (before: unknown, after: unknown, path = ""): Array<string> => {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((key) => describeChanges(before[key], after[key], path === "" ? key : `${path}.${key}`))
  }
  const a = JSON.stringify(before)
  const b = JSON.stringify(after)
  return a === b ? [] : [`${path}: ${a ?? "(absent)"} → ${b ?? "(absent)"}`]
}
