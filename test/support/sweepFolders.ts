import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert } from "@effect/vitest"

/** A run's files that are a function of its config alone: byte-identical however and wherever the run trained. */
export const DETERMINISTIC = ["config.json", "metrics.jsonl", "summary.json", "per-context.csv", "weights.json", "references.json", "digests.json"]

/** The CSV without one column. */
export const withoutColumn = (csv: string, column: string) => {
  const lines = csv.trim().split("\n").map((l) => l.split(","))
  const index = lines[0]!.indexOf(column)
  return lines.map((cells) => cells.filter((_, i) => i !== index).join(",")).join("\n")
}

/** A JSON file without the parts that say how a run executed (config.json's runtime; its digest in digests.json). */
const withoutRuntime = (file: string, name: string) => {
  const json = JSON.parse(readFileSync(file, "utf8"))
  if (name === "digests.json") {
    const { "config.json": _config, ...files } = json.files
    return { ...json, files }
  }
  const { runtime: _runtime, ...rest } = json
  return rest
}

/**
 * Asserts that two sweep folders hold the same results: every run's deterministic files, sweep.json, the aggregate
 * tables, and results.csv except its wall times. With `sameRuntime: false` the runs' runtime sections may differ
 * (a pool's runs sample inline). Returns the number of runs compared.
 */
export const assertSameSweep = (a: string, b: string, runPrefix: string, options: { readonly sameRuntime?: boolean } = {}) => {
  const runsA = readdirSync(a).filter((f) => f.startsWith(`${runPrefix}-`)).sort()
  assert.deepStrictEqual(readdirSync(b).filter((f) => f.startsWith(`${runPrefix}-`)).sort(), runsA)
  for (const run of runsA) {
    for (const file of DETERMINISTIC) {
      if (options.sameRuntime === false && (file === "config.json" || file === "digests.json")) {
        assert.deepStrictEqual(withoutRuntime(join(b, run, file), file), withoutRuntime(join(a, run, file), file), `${run}/${file}`)
      } else {
        assert.strictEqual(readFileSync(join(b, run, file), "utf8"), readFileSync(join(a, run, file), "utf8"), `${run}/${file}`)
      }
    }
  }
  for (const file of ["sweep.json", "aggregate.csv", "aggregate.md"]) {
    assert.strictEqual(readFileSync(join(b, file), "utf8"), readFileSync(join(a, file), "utf8"), file)
  }
  // Wall times differ between any two sweeps; every other column must agree.
  assert.strictEqual(
    withoutColumn(readFileSync(join(b, "results.csv"), "utf8"), "wall_seconds"),
    withoutColumn(readFileSync(join(a, "results.csv"), "utf8"), "wall_seconds")
  )
  return runsA.length
}
