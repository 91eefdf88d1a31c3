/**
 * A custom program composed from the exported API: evaluate a trained run on context lengths other than the one it
 * was trained on, next to its GD reference at the parameters read off its weights, and print a table.
 *
 *   pnpm tsx examples/longer-contexts.ts runs/<sweep>/<run-id> [n1,n2,...]
 */
import { pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { type ContextLengthRow, evaluateAtContextLengths, ServicesLive, TerminalLoggingLive } from "../src/index.js"

export const formatTable = (rows: ReadonlyArray<ContextLengthRow>) =>
  [
    "     n   model loss   reference loss   model acc   reference acc   model cos",
    ...rows.map(
      (r) =>
        `${String(r.n).padStart(6)}   ${r.modelLoss.toFixed(4).padStart(10)}   ${r.referenceLoss.toFixed(4).padStart(14)}   ${r.modelAccuracy.toFixed(3).padStart(9)}   ${r.referenceAccuracy.toFixed(3).padStart(13)}   ${r.modelCos.toFixed(4).padStart(9)}`
    )
  ].join("\n")

/** The program: evaluate, then print. */
export const longerContexts = (runDir: string, lengths: ReadonlyArray<number>) =>
  evaluateAtContextLengths(runDir, lengths).pipe(Effect.tap((rows) => Console.log(formatTable(rows))))

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [runDir, lengthsArg] = process.argv.slice(2)
  if (runDir === undefined) {
    process.stderr.write("usage: pnpm tsx examples/longer-contexts.ts <run folder> [n1,n2,...]\n")
    process.exit(2)
  }
  const lengths = (lengthsArg ?? "25,50,100,200,400").split(",").map(Number)
  longerContexts(runDir, lengths).pipe(
    Effect.provide(Layer.merge(ServicesLive, TerminalLoggingLive)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )
}
