/**
 * Errors a person can act on: a generator of malformed configs (every field of every kind given values of the wrong
 * type or out of range, the sweep section's mistakes, JSON cut anywhere, values nested without end, huge and unicode
 * keys, non-objects). Each must be refused with exit code 2 semantics (a ConfigError), name the path at fault (or the
 * line and column of a syntax error), echo at most a short cut of the value, and never throw. A few go through the CLI
 * as a person types them: exit 2, the message, no stack trace, nothing written.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { ConfigError } from "../../src/domain/Errors.js"
import { parseSweepText } from "../../src/programs/LoadConfig.js"
import { experiments } from "../../src/programs/Registry.js"
import { runCli, withConfig } from "../support/cli.js"

interface Case {
  readonly kind: string
  readonly label: string
  readonly text: string
  /** Text the message must hold: the path at fault, or where a syntax error is. */
  readonly names: ReadonlyArray<string>
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

const leaves = (value: unknown, path = ""): Array<readonly [string, unknown]> =>
  isObject(value) ? Object.entries(value).flatMap(([k, v]) => leaves(v, path === "" ? k : `${path}.${k}`)) : [[path, value]]

const withValue = (path: string, value: unknown): Record<string, unknown> =>
  path.split(".").reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>

const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
  const out = { ...a }
  for (const [k, v] of Object.entries(b)) out[k] = isObject(out[k]) && isObject(v) ? merge(out[k] as Record<string, unknown>, v) : v
  return out
}

/** Values no field of this default's type accepts. */
const badValuesFor = (path: string, value: unknown): ReadonlyArray<unknown> => {
  if (path === "name") return ["a name with spaces!", 7]
  if (path === "output.dir") return ["", 12]
  if (typeof value === "number") return ["7", { n: 1 }, true]
  if (typeof value === "boolean") return ["yes", 1]
  if (typeof value === "string") return [12345, "no-such-option-ü"]
  if (Array.isArray(value)) return ["0", ["0"], [-1]]
  if (value === null) return ["x", true]
  return ["x"]
}

/** Every field of every kind, each wrong. */
const fieldCases = (): Array<Case> =>
  experiments.flatMap((kind) => {
    const family = kind.families[0]!
    return leaves(kind.defaults)
      .filter(([path]) => path !== "task.family")
      .flatMap(([path, value]) =>
        badValuesFor(path, value).map((bad) => {
          const config = merge({ task: { family } }, withValue(path, bad))
          // A range's fields are checked as one object: the message names the range.
          const parent = path.split(".").slice(0, -1).join(".")
          return { kind: "field of the wrong type or out of range", label: `${kind.name} ${path} = ${JSON.stringify(bad)}`, text: JSON.stringify(config), names: [path, ...(parent.includes(".") ? [parent] : [])] }
        })
      )
  })

const sweepCases = (): Array<Case> =>
  (
    [
      [{ seeds: ["0", "1"] }, "sweep.seeds[0]: expected a non-negative integer, got \"0\""],
      [{ seeds: [0, 0] }, "sweep.seeds[1]: seed 0 is listed twice"],
      [{ seeds: [] }, "sweep.seeds: expected a non-empty list"],
      [{ seeds: 3 }, "sweep.seeds: expected a non-empty list"],
      [{ seeds: [-1] }, "sweep.seeds[0]"],
      [{ seeds: [1.5] }, "sweep.seeds[0]"],
      [{ axes: { "task.n": [] } }, "sweep.axes.task.n: expected a non-empty list of values, got []"],
      [{ axes: { "task.n": 5 } }, "sweep.axes.task.n: expected a non-empty list of values, got 5"],
      [{ axes: { "task.n": [10, 10] } }, "sweep.axes.task.n[1]: 10 is listed twice"],
      [{ axes: { "task.nn": [1] } }, "sweep.axes.task.nn: no such config field"],
      [{ axes: { "output.dir": ["a"] } }, "sweep.axes.output.dir: this field does not change results"],
      [{ axes: { seed: [1, 2] } }, "sweep.axes.seed: use sweep.seeds for seeds"],
      [{ axes: [] }, "sweep.axes: expected an object"],
      [{ axes: { "task.n": [10, -5] } }, "task.n: expected a positive integer, got -5"],
      [{ cases: [] }, "sweep.cases: expected a non-empty list"],
      [{ cases: [5] }, "sweep.cases[0]: expected an object"],
      [{ cases: [{}, {}] }, "sweep.cases[1]: the same settings as sweep.cases[0]"],
      [{ cases: [{ "task.zz": 1 }] }, "sweep.cases[0].task.zz: no such config field"],
      [{ axes: { "task.n": [10] }, cases: [{ "task.n": 20 }] }, "sweep.cases[0].task.n: this field is an axis too"],
      [{ bogus: 1 }, "sweep.bogus: is unexpected"],
      [[], "sweep: expected an object"],
      ["all", "sweep: expected an object"]
    ] as const
  ).map(([sweep, names]) => ({ kind: "sweep section", label: JSON.stringify(sweep), text: JSON.stringify({ sweep }), names: [names] }))

/** A valid config's text cut at many places, and the usual hand-editing slips. */
const syntaxCases = (): Array<Case> => {
  const valid = JSON.stringify({ name: "cut", task: { n: 20, noise: 0.3 }, training: { steps: 10 }, sweep: { seeds: [0, 1] } }, null, 2)
  const cuts = Array.from({ length: 12 }, (_, i) => Math.floor(((i + 1) * (valid.length - 1)) / 13)).map((at) => ({
    kind: "JSON syntax",
    label: `cut at ${at}`,
    text: valid.slice(0, at),
    names: ["line "]
  }))
  const slips = [
    '{ "task": { "n": 5, } }',
    "{ 'task': {} }",
    '{ "task": { "n": 05 } }',
    '{ "task": { "n": NaN } }',
    '{ "training": { "steps": 10 } // comment\n}',
    '{ "task" { } }',
    '{ "name": "a" "seed": 1 }',
    "\uFEFF{ ",
    "   \n  ",
    "",
    '{ "name": "unterminated }'
  ].map((text) => ({ kind: "JSON syntax", label: JSON.stringify(text), text, names: [text.trim() === "" || text === "" ? "empty" : "line "] }))
  return [...cuts, ...slips]
}

const nested = (depth: number, leaf: string, open: string, close: string) => `${open.repeat(depth)}${leaf}${close.repeat(depth)}`

/** Values nested without end, huge and unicode keys and values, non-objects. */
const shapeCases = (): Array<Case> => [
  ...[40, 1_000, 100_000].flatMap((depth) => [
    { kind: "nested without end", label: `task.n in ${depth} arrays`, text: `{"task":{"n":${nested(depth, "1", "[", "]")}}}`, names: ["task.n"] },
    { kind: "nested without end", label: `sweep axis value in ${depth} objects`, text: `{"sweep":{"axes":{"task.n":[${nested(depth, "1", '{"a":', "}")}]}}}`, names: ["sweep.axes.task.n[0]"] },
    { kind: "nested without end", label: `case in ${depth} arrays`, text: `{"sweep":{"cases":[{"task.n":${nested(depth, "1", "[", "]")}}]}}`, names: ["sweep.cases[0]"] },
    { kind: "nested without end", label: `unknown key holding ${depth} arrays`, text: `{"zz":${nested(depth, "1", "[", "]")}}`, names: ["zz"] }
  ]),
  { kind: "huge or unicode", label: "a 100,000-character unknown key", text: JSON.stringify({ ["k".repeat(100_000)]: 1 }), names: ["kkkkkkkk"] },
  { kind: "huge or unicode", label: "an emoji key", text: JSON.stringify({ task: { ["é😀".repeat(5000)]: 2 } }), names: ["task.é😀"] },
  { kind: "huge or unicode", label: "a 1,000,000-character value", text: JSON.stringify({ name: "x".repeat(1_000_000) }), names: ["name"] },
  { kind: "huge or unicode", label: "a unicode family", text: JSON.stringify({ task: { family: "clüster😀" } }), names: ["task.family"] },
  { kind: "huge or unicode", label: "an axis of 100,000 strings", text: JSON.stringify({ sweep: { axes: { "task.n": Array.from({ length: 100_000 }, (_, i) => `n${i}`) } } }), names: ["task.n"] },
  { kind: "huge or unicode", label: "__proto__ as a key", text: '{"__proto__":{"x":1}}', names: ["__proto__"] },
  ...["[]", "5", '"config"', "null", "true", "[{}]"].map((text) => ({ kind: "not an object", label: text, text, names: ["expected a JSON object"] }))
]

const allCases = () => [...fieldCases(), ...sweepCases(), ...syntaxCases(), ...shapeCases()]

/** The longest line a message may have: an echo is cut to 60 characters and a path to 80. */
const LONGEST_LINE = 400

describe("malformed configs", () => {
  it("every generated malformed config (at least 100) is refused with a ConfigError that names its path, short lines, and no exception", () => {
    const cases = allCases()
    assert.isAtLeast(cases.length, 100)
    const table = new Map<string, { tried: number; held: number }>()
    const failures: Array<string> = []
    for (const c of cases) {
      const row = table.get(c.kind) ?? { tried: 0, held: 0 }
      table.set(c.kind, row)
      row.tried += 1
      let result: Either.Either<unknown, ConfigError>
      try {
        result = parseSweepText(c.text, "cfg.json")
      } catch (error) {
        failures.push(`${c.label}: threw ${String(error).slice(0, 200)}`)
        continue
      }
      if (Either.isRight(result)) {
        failures.push(`${c.label}: accepted`)
        continue
      }
      const message = result.left.message
      const problems = [
        ...(result.left instanceof ConfigError ? [] : ["not a ConfigError"]),
        ...(c.names.some((name) => message.includes(name)) ? [] : [`does not name ${c.names.join(" or ")}: ${message.slice(0, 300)}`]),
        ...message.split("\n").filter((line) => line.length > LONGEST_LINE).map((line) => `a line of ${line.length} characters`)
      ]
      if (problems.length === 0) row.held += 1
      else failures.push(`${c.label}: ${problems.join("; ")}`)
    }
    console.info(["fault kind | cases tried | held", ...[...table].map(([kind, { tried, held }]) => `${kind} | ${tried} | ${held}`)].join("\n"))
    assert.deepStrictEqual(failures, [])
  })

  it("through the CLI, as a person types it: exit 2, the path or place named, no stack trace, nothing written", async () => {
    const picks = [
      { text: JSON.stringify({ sweep: { seeds: ["0", "1"] } }), says: 'sweep.seeds[0]: expected a non-negative integer, got "0"' },
      { text: '{\n  "task": {\n    "n": 5,\n  }\n}', says: "line 4, column 3" },
      { text: `{"sweep":{"axes":{"task.n":[${nested(5_000, "1", '{"a":', "}")}]}}}`, says: "nested deeper than 32 levels" },
      { text: JSON.stringify({ ["é😀".repeat(5000)]: 1 }), says: "é😀é😀" },
      { text: "", says: "the file is empty" },
      { text: JSON.stringify({ training: { steps: "many" } }), says: 'training.steps: expected a non-negative integer, got "many"' }
    ]
    for (const { text, says } of picks) {
      const { dir, file } = withConfig(text)
      const result = await runCli(["run", file], dir)
      assert.strictEqual(result.status, 2, `${says}: ${result.stderr}`)
      assert.include(result.stderr, says)
      assert.include(result.stderr, file)
      assert.notMatch(result.stderr, /\n\s+at /, "no stack trace")
      assert.isBelow(Math.max(...result.stderr.split("\n").map((l) => l.length)), LONGEST_LINE)
      assert.deepStrictEqual(readdirSync(dir), ["config.json"], "nothing written")
    }
    const { dir, file } = withConfig({ training: { steps: 5 }, output: { dir: "out" } })
    for (const j of ["0", "-2"]) {
      const result = await runCli(["run", file, "-j", j], dir)
      assert.strictEqual(result.status, 2, result.stderr)
      assert.include(result.stderr, `--concurrency (-j): expected a positive integer, got ${j}`)
    }
    const folder = await runCli(["run", dir], dir)
    assert.strictEqual(folder.status, 2)
    assert.include(folder.stderr, "it is a folder, not a file")
    const help = await runCli(["run", "--help"], dir)
    assert.notInclude(help.stdout, "\u001b[", "no ANSI codes off a terminal")
    assert.include(help.stdout, "pnpm start run")
    assert.deepStrictEqual(readdirSync(dir), ["config.json"], "nothing written")
    assert.isFalse(readdirSync(dir).includes("out") || readdirSync(join(dir)).length > 1)
  })
})
