/**
 * How trustworthy early stopping is: for each run of a sweep that stopped once its basin was decided (earlyStop), the
 * run of a full-length sweep with the same config otherwise (seed included); prints the pairs and the fraction whose
 * basin at the stop is the full run's final basin, with its 95% Wilson interval.
 *
 *   pnpm tsx examples/basins/early-stop-agreement.ts runs/basins-default-full runs/basins-study
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { basinOf, canonicalJson, formatProportion, wilsonInterval } from "../../src/index.js"

interface Entry {
  readonly key: string
  readonly seed: number
  readonly cSigma: number
  readonly step: number
  readonly stoppedAt: number | null
  readonly loss: number
}

/** The finished runs of a sweep folder, keyed by their config without name, early stopping, output and runtime. */
const runsOf = (folder: string): Array<Entry> => {
  const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")) as { runs: Array<{ id: string; state: string }> }
  return manifest.runs
    .filter((r) => r.state === "done")
    .map((r) => {
      const config = JSON.parse(readFileSync(join(folder, r.id, "config.json"), "utf8"))
      const summary = JSON.parse(readFileSync(join(folder, r.id, "summary.json"), "utf8"))
      const { name: _name, earlyStop: _earlyStop, output: _output, runtime: _runtime, ...identity } = config
      return {
        key: canonicalJson(identity),
        seed: config.seed,
        cSigma: summary.final.extracted.cSigma,
        step: summary.final.step,
        stoppedAt: summary.stoppedEarly?.step ?? null,
        loss: summary.final.model.loss
      }
    })
}

const [fullFolder, earlyFolder] = process.argv.slice(2)
if (fullFolder === undefined || earlyFolder === undefined) {
  process.stderr.write("usage: pnpm tsx examples/basins/early-stop-agreement.ts <full-length sweep folder> <early-stopped sweep folder>\n")
  process.exit(2)
}
const full = new Map(runsOf(fullFolder).map((e) => [e.key, e]))
const pairs = runsOf(earlyFolder)
  .filter((e) => e.stoppedAt !== null && full.has(e.key))
  .map((early) => ({ early, full: full.get(early.key)! }))
  .sort((a, b) => a.early.seed - b.early.seed)
const agree = pairs.filter((p) => basinOf(p.early.cSigma) === basinOf(p.full.cSigma)).length
console.log("| seed | stopped at | c_σ at the stop | basin at the stop | full run: steps | final c_σ | final basin |")
console.log("| --- | --- | --- | --- | --- | --- | --- |")
for (const { early, full: f } of pairs) {
  console.log(
    `| ${early.seed} | ${early.stoppedAt} | ${early.cSigma.toFixed(2)} | ${basinOf(early.cSigma)} | ${f.step} | ${f.cSigma.toFixed(2)} | ${basinOf(f.cSigma)} |`
  )
}
console.log(`\nbasin at the stop = final basin: ${formatProportion(wilsonInterval(agree, pairs.length))}`)
