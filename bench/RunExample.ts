/**
 * Runs one example config in this process into a fresh folder and prints its wall time and this process's peak
 * memory as one JSON line: the bench starts it as a child so that the peak is the run's alone.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { ServicesLive } from "../src/AppLayer.js"
import { loadConfig } from "../src/programs/LoadConfig.js"
import { runExperiment } from "../src/programs/Registry.js"

const file = process.argv[2]!
const program = Effect.gen(function* () {
  const config = yield* loadConfig(file)
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-bench-"))
  const started = performance.now()
  const result = yield* runExperiment({ ...config, output: { ...config.output, dir, progress: false } })
  const wallSeconds = (performance.now() - started) / 1000
  const run = JSON.parse(readFileSync(join(result.dir, "run.json"), "utf8"))
  return {
    config: file,
    wallSeconds,
    phaseSeconds: run.phaseSeconds,
    engine: result.summary.engine,
    finalLoss: result.summary.final.model.loss,
    peakRssMb: process.resourceUsage().maxRSS / 1024
  }
})
Effect.runPromise(program.pipe(Effect.provide(ServicesLive))).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
