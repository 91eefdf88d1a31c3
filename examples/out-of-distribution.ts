/**
 * A custom program composed from the exported API: evaluate a trained run on shifted tasks (spec E9) without
 * retraining, next to its GD reference at the parameters read off its weights and at its grid optimum, and print a
 * table with standard errors over contexts and paired model − reference gaps.
 *
 *   pnpm tsx examples/out-of-distribution.ts runs/<sweep>/<run-id> [contexts per set]
 */
import { pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { evaluateShifts, ServicesLive, type ShiftResult, TerminalLoggingLive } from "../src/index.js"

const pm = (mean: number, se: number, digits = 4) => `${mean.toFixed(digits)} ± ${se.toFixed(digits)}`

export const formatShiftTable = (rows: ReadonlyArray<ShiftResult>) =>
  [
    `${"evaluation tasks".padEnd(30)} ${"model loss".padStart(17)} ${"reference (extr.)".padStart(17)} ${"model − reference".padStart(17)} ${"reference (grid)".padStart(17)} ${"model acc".padStart(15)}`,
    ...rows.map(
      (r) =>
        `${r.name.padEnd(30)} ${pm(r.model.loss, r.modelSe.loss).padStart(17)} ${pm(r.atExtracted.loss, r.atExtractedSe.loss).padStart(17)} ${pm(r.modelMinusExtracted.loss.mean, r.modelMinusExtracted.loss.se).padStart(17)} ${pm(r.atGridOptimum.loss, r.atGridOptimumSe.loss).padStart(17)} ${pm(r.model.accuracy, r.modelSe.accuracy, 3).padStart(15)}`
    ),
    `(± standard errors over the ${rows[0]?.contexts ?? 0} contexts of each set; model − reference paired on the same contexts)`
  ].join("\n")

/** The program: evaluate, then print. */
export const outOfDistribution = (runDir: string, contexts?: number) =>
  evaluateShifts(runDir, undefined, contexts).pipe(Effect.tap((rows) => Console.log(formatShiftTable(rows))))

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [runDir, contexts] = process.argv.slice(2)
  if (runDir === undefined) {
    process.stderr.write("usage: pnpm tsx examples/out-of-distribution.ts <run folder> [contexts per set]\n")
    process.exit(2)
  }
  outOfDistribution(runDir, contexts === undefined ? undefined : Number(contexts)).pipe(
    Effect.provide(Layer.merge(ServicesLive, TerminalLoggingLive)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )
}
