/**
 * Sweeps: a config may declare axes over any of its fields (by dotted path) and a list of seeds. The sweep expands to
 * one run per combination, each a complete config whose id is the hash of its canonical resolved form. A config
 * without a sweep section is a sweep of one.
 */
import { Either } from "effect"
import { type BaseConfig, canonicalJson, type ConfigIssue, showValue } from "./ConfigSchema.js"
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
  /** What sweep.json stores: see SweepDefinition. */
  readonly definition: SweepDefinition
  readonly runs: ReadonlyArray<SweepRun>
}

/**
 * What defines a sweep's results (sweep.json): its planned runs, each with its id, seed, axis values and the config
 * that defines it (without the output and runtime sections, which change how a run executes, not what it computes),
 * and, for the reader, the axes and seeds they were planned from.
 */
export interface SweepDefinition {
  readonly name: string
  readonly kind: string
  readonly axes: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly cases?: ReadonlyArray<Readonly<Record<string, unknown>>>
  readonly seeds: ReadonlyArray<number>
  /** The command line's `--set path=value` overrides the runs were planned with (absent: none). */
  readonly set?: ReadonlyArray<string>
  readonly runs: ReadonlyArray<RunRecord>
}

export interface RunRecord {
  readonly id: string
  readonly seed: number
  readonly axes: Readonly<Record<string, unknown>>
  readonly config: unknown
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
 * The part of a resolved config that defines what a run computes, as a sweep's definition holds it: without the
 * sections that do not change results (output, runtime), and without the options added later at their neutral values,
 * so that a sweep folder written before an option existed is resumed.
 */
export const identityOf = (config: BaseConfig): Record<string, unknown> => {
  const { output: _output, runtime: _runtime, ...rest } = config
  return withoutNeutralFields(rest)
}

const isSeed = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER

/**
 * The sweep section, checked field by field: every problem with its path and the value at fault
 * (`sweep.seeds[0]: expected a non-negative integer, got "0"`). Axes and cases with problems are left out of what it
 * returns, so that the runs of the others are still checked.
 */
const decodeSweepSection = (
  sweep: unknown,
  defaults: BaseConfig
): {
  readonly axes: Record<string, ReadonlyArray<unknown>>
  readonly cases: ReadonlyArray<Record<string, unknown>> | undefined
  readonly seeds: ReadonlyArray<number> | undefined
  readonly issues: Array<ConfigIssue>
} => {
  const issues: Array<ConfigIssue> = []
  const axes: Record<string, ReadonlyArray<unknown>> = {}
  let seeds: Array<number> | undefined
  let cases: Array<Record<string, unknown>> | undefined
  if (!isObject(sweep)) {
    issues.push({
      path: "sweep",
      message: `expected an object { axes?: { "<field path>": [values…] }, cases?: [{ "<field path>": value, … }, …], seeds?: [integers…] }, got ${showValue(sweep)}`
    })
    return { axes, cases, seeds, issues }
  }
  const checkPath = (where: string, path: string): boolean => {
    if (path === "seed") issues.push({ path: where, message: "use sweep.seeds for seeds" })
    else if (path === "name" || path === "output" || path === "runtime" || path.startsWith("output.") || path.startsWith("runtime.")) {
      issues.push({ path: where, message: "this field does not change results and cannot be an axis" })
    } else if (!fieldExists(path, defaults)) issues.push({ path: where, message: "no such config field" })
    else return true
    return false
  }
  for (const key of Object.keys(sweep)) {
    if (key !== "axes" && key !== "cases" && key !== "seeds") issues.push({ path: `sweep.${key}`, message: "is unexpected (a sweep has axes, cases and seeds)" })
  }
  if (sweep["axes"] !== undefined) {
    const raw = sweep["axes"]
    if (!isObject(raw)) {
      issues.push({ path: "sweep.axes", message: `expected an object { "<field path>": [values…] }, got ${showValue(raw)}` })
    } else {
      for (const [path, values] of Object.entries(raw)) {
        const where = `sweep.axes.${path}`
        if (!checkPath(where, path)) continue
        if (!Array.isArray(values) || values.length === 0) {
          issues.push({ path: where, message: `expected a non-empty list of values, got ${showValue(values)}` })
          continue
        }
        const seen = new Set<string>()
        values.forEach((value, i) => {
          const text = canonicalJson(value)
          if (seen.has(text)) issues.push({ path: `${where}[${i}]`, message: `${showValue(value)} is listed twice` })
          seen.add(text)
        })
        axes[path] = values
      }
    }
  }
  if (sweep["cases"] !== undefined) {
    const raw = sweep["cases"]
    if (!Array.isArray(raw) || raw.length === 0) {
      issues.push({ path: "sweep.cases", message: `expected a non-empty list of cases [{ "<field path>": value, … }, …], got ${showValue(raw)}` })
    } else {
      cases = []
      const seen = new Map<string, number>()
      raw.forEach((settings, i) => {
        if (!isObject(settings)) {
          issues.push({ path: `sweep.cases[${i}]`, message: `expected an object { "<field path>": value, … }, got ${showValue(settings)}` })
          return
        }
        const usable: Record<string, unknown> = {}
        for (const [path, value] of Object.entries(settings)) {
          const where = `sweep.cases[${i}].${path}`
          if (path in axes) issues.push({ path: where, message: "this field is an axis too; set it in one place" })
          else if (checkPath(where, path)) usable[path] = value
        }
        const text = canonicalJson(settings)
        if (seen.has(text)) issues.push({ path: `sweep.cases[${i}]`, message: `the same settings as sweep.cases[${seen.get(text)}]` })
        else seen.set(text, i)
        cases!.push(usable)
      })
    }
  }
  if (sweep["seeds"] !== undefined) {
    const raw = sweep["seeds"]
    if (!Array.isArray(raw) || raw.length === 0) {
      issues.push({ path: "sweep.seeds", message: `expected a non-empty list of non-negative integers, got ${showValue(raw)}` })
    } else {
      seeds = []
      raw.forEach((seed, i) => {
        if (!isSeed(seed)) issues.push({ path: `sweep.seeds[${i}]`, message: `expected a non-negative integer, got ${showValue(seed)}` })
        else if (seeds!.includes(seed)) issues.push({ path: `sweep.seeds[${i}]`, message: `seed ${seed} is listed twice` })
        else seeds!.push(seed)
      })
    }
  }
  return { axes, cases, seeds, issues }
}

const valueAt = (config: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), config)

const describeAxes = (combo: Readonly<Record<string, unknown>>) => Object.entries(combo).map(([p, v]) => `${p} = ${showValue(v)}`).join(", ")

const describeCombo = (combo: Readonly<Record<string, unknown>>, seed: number) =>
  [...Object.entries(combo).map(([p, v]) => `${p} = ${showValue(v)}`), `seed ${seed}`].join(", ")

/**
 * Expands a parsed config file into its runs, each decoded by its kind; every problem (including those of each run's
 * config) at once. The runs are every combination of the axes' values, crossed with every case (a list of settings,
 * each setting a few fields: for studies that vary one thing at a time around a base), crossed with the seeds. Each
 * planned run is validated, not the base alone: a base field that every axis value overrides may be invalid by itself.
 * Axis values or cases that resolve to the same run are refused (they would count one run twice).
 */
export const planSweepWith = (kinds: ReadonlyArray<ConfigKind<any>>) => (value: unknown): Either.Either<SweepPlan, ReadonlyArray<ConfigIssue>> => {
  if (!isObject(value)) return Either.left([{ path: "", message: `expected a JSON object, got ${showValue(value)}` }])
  const { sweep, ...rawBase } = value
  const kind = kindOfInput(kinds, rawBase)
  const section = sweep === undefined ? { axes: {}, cases: undefined, seeds: undefined, issues: [] } : decodeSweepSection(sweep, kind.defaults)
  const { axes } = section
  const issues: Array<ConfigIssue> = [...section.issues]
  const base = decodeWithKinds(kinds, rawBase)
  // The base's own problems count only where a run keeps them: below, each run is decoded. Axes and seeds with
  // problems are left out of the expansion (reported above), so that the other axes' values are still checked.

  const baseSeed = Either.isRight(base) ? base.right.seed : isSeed(rawBase["seed"]) ? rawBase["seed"] : kind.defaults.seed
  const seedList = section.seeds !== undefined && section.seeds.length > 0 ? section.seeds : [baseSeed]
  const runs: Array<SweepRun> = []
  const runIssues: Array<{ readonly issue: ConfigIssue; readonly combo: Record<string, unknown>; readonly seed: number }> = []
  let planned = 0
  const caseList = section.cases ?? [{}]
  const casePaths = [...new Set(caseList.flatMap((settings) => Object.keys(settings)))]
  for (const combo of cartesian(Object.entries(axes)).flatMap((axisCombo) => caseList.map((settings) => ({ axisCombo, combo: { ...axisCombo, ...settings } })))) {
    for (const seed of seedList) {
      planned += 1
      // Without sweep.seeds the file's own seed (valid or not) is the run's.
      let raw: Record<string, unknown> = section.seeds !== undefined && section.seeds.length > 0 ? { ...rawBase, seed } : { ...rawBase }
      for (const [path, v] of Object.entries(combo.combo)) raw = withValue(raw, path, v)
      if (kindOfInput(kinds, raw) !== kind) {
        issues.push({
          path: "sweep.axes.task.family",
          message: `a sweep's runs must all be of one kind (${kinds.map((k) => k.name).join(", ")}); this one mixes ${kind.name} with ${kindOfInput(kinds, raw).name}`
        })
        continue
      }
      const decoded = decodeWithKinds(kinds, raw)
      if (Either.isLeft(decoded)) {
        for (const issue of decoded.left) runIssues.push({ issue, combo: combo.combo, seed })
        continue
      }
      // Every case field is a column: a run whose case does not set it shows its resolved value.
      const columns = { ...combo.axisCombo, ...Object.fromEntries(casePaths.map((path) => [path, valueAt(decoded.right, path)])) }
      runs.push({ id: runIdOf(decoded.right), seed, axes: columns, config: decoded.right })
    }
  }
  // A problem every run has is the base's (reported once, as the file states it); one that every seed of an axis
  // combination has names the combination; others name their run.
  const key = (issue: ConfigIssue) => `${issue.path}\u0000${issue.message}`
  const inRuns = new Map<string, number>()
  const inCombo = new Map<string, number>()
  for (const { issue, combo } of runIssues) {
    inRuns.set(key(issue), (inRuns.get(key(issue)) ?? 0) + 1)
    inCombo.set(`${key(issue)}\u0000${canonicalJson(combo)}`, (inCombo.get(`${key(issue)}\u0000${canonicalJson(combo)}`) ?? 0) + 1)
  }
  for (const { issue, combo, seed } of runIssues) {
    if (inRuns.get(key(issue)) === planned) issues.push(issue)
    else {
      const everySeed = inCombo.get(`${key(issue)}\u0000${canonicalJson(combo)}`) === seedList.length && Object.keys(combo).length > 0
      issues.push({ path: issue.path, message: `${issue.message} (in the run with ${everySeed ? describeAxes(combo) : describeCombo(combo, seed)})` })
    }
  }
  if (issues.length === 0) {
    const byId = new Map<string, SweepRun>()
    for (const run of runs) {
      const first = byId.get(run.id)
      if (first === undefined) {
        byId.set(run.id, run)
        continue
      }
      const differing = Object.keys(run.axes).filter((path) => canonicalJson(run.axes[path]) !== canonicalJson(first.axes[path]))
      issues.push({
        path: differing.length === 0 ? "sweep" : differing[0]! in axes ? `sweep.axes.${differing[0]}` : "sweep.cases",
        message: `the runs with ${describeCombo(first.axes, first.seed)} and with ${describeCombo(run.axes, run.seed)} are the same run (${run.id}): ${differing.map((p) => `${p} = ${showValue(first.axes[p])} and ${showValue(run.axes[p])}`).join(", ")} resolve to the same config; keep one of the values`
      })
    }
  }
  if (issues.length > 0) return Either.left(dedupe(issues))
  const first = runs[0]!.config
  const columns = {
    ...axes,
    ...Object.fromEntries(casePaths.map((path) => [path, [...new Map(runs.map((run) => [canonicalJson(run.axes[path]), run.axes[path]])).values()]]))
  }
  return Either.right({
    name: first.name,
    kind: kind.name,
    outputDir: first.output.dir,
    axes: columns,
    seeds: seedList,
    definition: {
      name: first.name,
      kind: kind.name,
      axes,
      ...(section.cases === undefined ? {} : { cases: section.cases }),
      seeds: seedList,
      runs: runs.map((run) => ({ id: run.id, seed: run.seed, axes: run.axes, config: JSON.parse(canonicalJson(identityOf(run.config))) as unknown }))
    },
    runs
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

/**
 * The runs a stored sweep.json defines. A sweep.json of an earlier version held the base config, the axes and the
 * seeds instead of the runs: its runs are planned again from them (run ids are stable across versions, see RunId).
 */
export const storedRunsOf = (
  stored: unknown,
  plan: (value: unknown) => Either.Either<SweepPlan, ReadonlyArray<ConfigIssue>>
): Either.Either<ReadonlyArray<RunRecord>, string> => {
  if (isObject(stored) && Array.isArray(stored["runs"])) {
    const runs = stored["runs"] as Array<unknown>
    const valid = runs.every(
      (r) => isObject(r) && typeof r["id"] === "string" && typeof r["seed"] === "number" && isObject(r["axes"]) && isObject(r["config"])
    )
    return valid ? Either.right(runs as Array<RunRecord>) : Either.left("its runs are not a list of { id, seed, axes, config }")
  }
  if (isObject(stored) && isObject(stored["base"])) {
    const sweep = {
      ...(isObject(stored["axes"]) && Object.keys(stored["axes"]).length > 0 ? { axes: stored["axes"] } : {}),
      ...(Array.isArray(stored["cases"]) ? { cases: stored["cases"] } : {}),
      ...(Array.isArray(stored["seeds"]) ? { seeds: stored["seeds"] } : {})
    }
    const planned = plan({ ...stored["base"], sweep })
    return Either.isRight(planned)
      ? Either.right(planned.right.definition.runs)
      : Either.left(`its definition (from an earlier version) no longer plans: ${planned.left.map((i) => `${i.path}: ${i.message}`).join("; ")}`)
  }
  return Either.left("it holds neither runs nor a base config")
}

/** How a planned sweep relates to the runs stored in its folder. */
export type Reconciled =
  /** Nothing stored: the folder is new. */
  | { readonly _tag: "New"; readonly definition: SweepDefinition }
  /**
   * No stored run changed: the plan is the same set of runs, a superset (the sweep is extended) or a different
   * selection. `definition` is what sweep.json holds from now on (every stored and planned run), `added` the runs the
   * folder did not have.
   */
  | { readonly _tag: "Compatible"; readonly definition: SweepDefinition; readonly added: number; readonly unplanned: number }
  /** Some planned run replaces a stored run at the same seed and axis values: refused, with what changed. */
  | { readonly _tag: "Drift"; readonly changes: ReadonlyArray<string> }

const unionOf = (a: Readonly<Record<string, ReadonlyArray<unknown>>>, b: Readonly<Record<string, ReadonlyArray<unknown>>>) => {
  const out: Record<string, Array<unknown>> = {}
  for (const source of [a, b]) {
    for (const [path, values] of Object.entries(source)) {
      const list = (out[path] ??= [])
      for (const v of values) if (!list.some((u) => canonicalJson(u) === canonicalJson(v))) list.push(v)
    }
  }
  return out
}

/**
 * Judges a plan against the runs stored in its folder, run by run: a planned run whose id is stored is the same run;
 * a planned run that is not stored extends the sweep, unless a stored run that is not planned has its seed and its
 * values on every axis both have: then the plan changed that run, and the changes are listed.
 */
export const reconcileSweep = (stored: ReadonlyArray<RunRecord> | undefined, plan: SweepPlan): Reconciled => {
  if (stored === undefined) return { _tag: "New", definition: plan.definition }
  const storedIds = new Set(stored.map((r) => r.id))
  const plannedIds = new Set(plan.definition.runs.map((r) => r.id))
  const added = plan.definition.runs.filter((r) => !storedIds.has(r.id))
  const unplanned = stored.filter((r) => !plannedIds.has(r.id))
  const sameCell = (a: RunRecord, b: RunRecord) =>
    a.seed === b.seed && Object.keys(a.axes).every((path) => !(path in b.axes) || canonicalJson(a.axes[path]) === canonicalJson(b.axes[path]))
  const changes: Array<string> = []
  for (const run of added) {
    const replaced = unplanned.find((old) => sameCell(run, old))
    if (replaced === undefined) continue
    const lines = describeChanges(withoutNeutralFields(replaced.config as Record<string, unknown>), withoutNeutralFields(run.config as Record<string, unknown>))
    for (const line of lines) if (!changes.includes(line)) changes.push(line)
  }
  if (changes.length > 0) return { _tag: "Drift", changes }
  const definition: SweepDefinition =
    unplanned.length === 0
      ? plan.definition
      : {
          ...plan.definition,
          axes: unionOf(storedAxesOf(stored), plan.definition.axes),
          seeds: [...new Set([...stored.map((r) => r.seed), ...plan.definition.seeds])],
          runs: [...stored, ...added]
        }
  return { _tag: "Compatible", definition, added: added.length, unplanned: unplanned.length }
}

const storedAxesOf = (runs: ReadonlyArray<RunRecord>) => {
  const axes: Record<string, Array<unknown>> = {}
  for (const run of runs) for (const [path, v] of Object.entries(run.axes)) (axes[path] ??= []).push(v)
  return unionOf({}, axes)
}

/** One `--set path=value` of the command line: the path, the value as JSON (or as a string when it is not JSON). */
export interface Override {
  readonly path: string
  readonly value: unknown
  /** As the user typed it, for messages and the record in sweep.json. */
  readonly text: string
}

/**
 * Parses `--set` arguments (`task.n=50`, `model.attention=linear`, `sweep.seeds=[0,1,2]`): the value is read as JSON
 * when it is JSON, else as a string. Each path must be a config field of the config's kind, `name`, `seed`,
 * `sweep.seeds`, `sweep.cases` or `sweep.axes.<field path>`.
 */
export const parseOverrides = (
  kinds: ReadonlyArray<ConfigKind<any>>,
  raw: unknown,
  texts: ReadonlyArray<string>
): Either.Either<ReadonlyArray<Override>, ReadonlyArray<ConfigIssue>> => {
  const issues: Array<ConfigIssue> = []
  const overrides: Array<Override> = []
  const defaults = kindOfInput(kinds, raw).defaults
  for (const text of texts) {
    const at = text.indexOf("=")
    const where = `--set ${showValue(text).slice(1, -1)}`
    if (at <= 0) {
      issues.push({ path: "", message: `${where}: expected path=value (e.g. --set task.n=50)` })
      continue
    }
    const path = text.slice(0, at).trim()
    const valueText = text.slice(at + 1)
    let value: unknown
    try {
      value = JSON.parse(valueText)
    } catch {
      value = valueText
    }
    const axis = path.startsWith("sweep.axes.") ? path.slice("sweep.axes.".length) : undefined
    const known =
      path === "name" ||
      path === "seed" ||
      path === "sweep.seeds" ||
      path === "sweep.cases" ||
      (axis !== undefined && fieldExists(axis, defaults)) ||
      (!path.startsWith("sweep") && fieldExists(path, defaults))
    if (!known) issues.push({ path: "", message: `${where}: no such config field ${showValue(path)}` })
    else overrides.push({ path, value, text })
  }
  return issues.length > 0 ? Either.left(issues) : Either.right(overrides)
}

/** The config with each override applied, in order (a sweep axis is set by its dotted path as one key). */
export const applyOverrides = (raw: Record<string, unknown>, overrides: ReadonlyArray<Override>): Record<string, unknown> =>
  overrides.reduce((config, { path, value }) => {
    if (!path.startsWith("sweep.axes.")) return withValue(config, path, value)
    const sweep = isObject(config["sweep"]) ? config["sweep"] : {}
    const axes = isObject(sweep["axes"]) ? sweep["axes"] : {}
    return { ...config, sweep: { ...sweep, axes: { ...axes, [path.slice("sweep.axes.".length)]: value } } }
  }, raw)

