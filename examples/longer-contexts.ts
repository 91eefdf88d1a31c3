/**
 * A custom program composed from the exported services: evaluate a trained run on context lengths other than the one
 * it was trained on, next to its GD reference at the parameters read off its weights (spec §6 E6b).
 *
 *   pnpm tsx examples/longer-contexts.ts runs/<run-id> [n1,n2,...]
 */
import { pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import {
  GdReference,
  loadRun,
  MetricsCollector,
  modelSpecOf,
  referenceShapeOf,
  ServicesLive,
  TaskSampler,
  TerminalLoggingLive
} from "../src/index.js"

export interface ContextLengthRow {
  readonly n: number
  readonly modelLoss: number
  readonly referenceLoss: number
  readonly modelAccuracy: number
  readonly referenceAccuracy: number
  readonly modelCos: number
}

/** Loss of the trained model and of its reference at each context length, on fresh frozen evaluation sets. */
export const evaluateOnContextLengths = (runDir: string, lengths: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const run = yield* loadRun(runDir)
    const sampler = yield* TaskSampler
    const references = yield* GdReference
    const metrics = yield* MetricsCollector
    const spec = modelSpecOf(run.config)
    return yield* Effect.forEach(lengths, (n) =>
      Effect.gen(function* () {
        const task = { ...run.config.task, n }
        const set = yield* sampler.evaluationSet(task, run.config.evaluation.seed, run.config.evaluation.size)
        // The weights do not change with n, but c_η = n·b does: read the parameters off at this n.
        const extracted = yield* references.extract(spec, run.weights, n)
        const reference = yield* metrics.scoreReference(referenceShapeOf(spec), extracted.params, set)
        const { point } = yield* metrics.evaluate({
          step: 0,
          trainLoss: null,
          spec,
          weights: run.weights,
          initial: run.initial,
          set,
          gridParams: extracted.params,
          atGridOptimum: reference
        })
        return {
          n,
          modelLoss: point.model.loss,
          referenceLoss: point.reference.atExtracted.loss,
          modelAccuracy: point.model.accuracy,
          referenceAccuracy: point.reference.atExtracted.accuracy,
          modelCos: point.alignment.atExtracted.modelCos
        } satisfies ContextLengthRow
      })
    )
  })

const formatTable = (rows: ReadonlyArray<ContextLengthRow>) =>
  [
    "     n   model loss   reference loss   model acc   reference acc   model cos",
    ...rows.map(
      (r) =>
        `${String(r.n).padStart(6)}   ${r.modelLoss.toFixed(4).padStart(10)}   ${r.referenceLoss.toFixed(4).padStart(14)}   ${r.modelAccuracy.toFixed(3).padStart(9)}   ${r.referenceAccuracy.toFixed(3).padStart(13)}   ${r.modelCos.toFixed(4).padStart(9)}`
    )
  ].join("\n")

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [runDir, lengthsArg] = process.argv.slice(2)
  if (runDir === undefined) {
    process.stderr.write("usage: pnpm tsx examples/longer-contexts.ts <run folder> [n1,n2,...]\n")
    process.exit(2)
  }
  const lengths = (lengthsArg ?? "25,50,100,200,400").split(",").map(Number)
  evaluateOnContextLengths(runDir, lengths).pipe(
    Effect.flatMap((rows) => Console.log(formatTable(rows))),
    Effect.provide(Layer.merge(ServicesLive, TerminalLoggingLive)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )
}
