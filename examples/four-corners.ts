/**
 * A custom program composed from the exported API: the kernel-shape × adaptive-rate ablation of spec §6 E4 at the
 * grid-optimum level. A stored run holds the grid optima of all four one-step learners found on its grid-search set:
 *
 *                        fixed step         context-adaptive step c_η / Σ_j k_j
 *   linear kernel        GD-lin*            CA-GD-lin*
 *   exp kernel           KGD-fixed*         CA-KGD*
 *
 * This program scores the four at those optima on the run's evaluation set and on each set of `evaluation.seeds`,
 * with standard errors over contexts, and the effect of each ingredient as paired differences on the same contexts
 * (so the two sides' context-to-context variation cancels).
 *
 *   pnpm tsx examples/four-corners.ts runs/<sweep>/<run-id>
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import {
  loadRun,
  MetricsCollector,
  modelSpecOf,
  pairedDifferences,
  type PairedDifferences,
  type Performance,
  referenceShapeOf,
  type RunSummary,
  type Scored,
  ServicesLive,
  standardErrors,
  TaskSampler,
  TerminalLoggingLive
} from "../src/index.js"

const CORNERS = [
  ["gd-linear", "GD-lin*", "linear kernel, fixed step"],
  ["ca-gd-linear", "CA-GD-lin*", "linear kernel, adaptive step"],
  ["kgd-fixed", "KGD-fixed*", "exp kernel, fixed step"],
  ["ca-kgd", "CA-KGD*", "exp kernel, adaptive step"]
] as const
type Corner = (typeof CORNERS)[number][0]

/** The effect of one ingredient with the other held fixed: [label, with it, without it]. */
const EFFECTS: ReadonlyArray<readonly [string, Corner, Corner]> = [
  ["adaptive step, linear kernel (CA-GD-lin* − GD-lin*)", "ca-gd-linear", "gd-linear"],
  ["adaptive step, exp kernel (CA-KGD* − KGD-fixed*)", "ca-kgd", "kgd-fixed"],
  ["exp kernel, fixed step (KGD-fixed* − GD-lin*)", "kgd-fixed", "gd-linear"],
  ["exp kernel, adaptive step (CA-KGD* − CA-GD-lin*)", "ca-kgd", "ca-gd-linear"]
]

const pm = (mean: number, se: number, digits = 4) => `${mean.toFixed(digits)} ± ${se.toFixed(digits)}`

export interface CornerScore {
  readonly kind: Corner
  readonly label: string
  readonly what: string
  /** The grid optimum found on the run's grid-search set: c_σ and the step (η, or b for the adaptive learners). */
  readonly cSigma: number
  readonly scale: number
  readonly performance: Performance
  readonly se: Performance
}

export interface CornerSet {
  /** The evaluation set: `evaluation.seed` first, then each of `evaluation.seeds`. */
  readonly seed: number
  readonly contexts: number
  readonly corners: ReadonlyArray<CornerScore>
  /** Each ingredient's effect, paired on the set's contexts: with it − without it. */
  readonly effects: ReadonlyArray<{ readonly label: string; readonly difference: PairedDifferences }>
}

/** The four corners and the four paired effects on every evaluation set of a stored run. */
export const fourCorners = (runDir: string) =>
  Effect.gen(function* () {
    const run = yield* loadRun(runDir)
    const sampler = yield* TaskSampler
    const metrics = yield* MetricsCollector
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as RunSummary
    const { config } = run
    // The run's own convention (its references' shapes): the adaptive learners add the query's own kernel value only
    // when the run's model is softmax attention that attends to the query.
    const matching = referenceShapeOf(modelSpecOf(config))
    const selfAttend = matching.kind === "ca-kgd" && matching.selfAttend
    const sets: Array<CornerSet> = []
    for (const seed of [config.evaluation.seed, ...config.evaluation.seeds]) {
      const set = yield* sampler.freshSet("evaluation", config.task, seed, config.evaluation.size)
      const scored = {} as Record<Corner, Scored>
      const corners: Array<CornerScore> = []
      for (const [kind, label, what] of CORNERS) {
        const grid = summary.references[kind]
        if (grid === undefined) return yield* Effect.fail(`${runDir}: summary.json has no ${kind} grid optimum (a run of an older version)`)
        const shape = { kind, D: matching.D, selfAttend: selfAttend && (kind === "ca-kgd" || kind === "ca-gd-linear") }
        scored[kind] = yield* metrics.scoreReference(shape, { cSigma: grid.best.cSigma, scale: grid.best.scale }, set)
        corners.push({ kind, label, what, cSigma: grid.best.cSigma, scale: grid.best.scale, performance: scored[kind].performance, se: standardErrors(scored[kind].stats) })
      }
      const effects = EFFECTS.map(([label, withIt, without]) => ({ label, difference: pairedDifferences(scored[withIt].stats, scored[without].stats) }))
      sets.push({ seed, contexts: set.size, corners, effects })
    }
    return sets
  })

export const formatFourCorners = (sets: ReadonlyArray<CornerSet>) =>
  [
    ...sets.flatMap((s) => [
      `evaluation set seed ${s.seed} (${s.contexts} contexts)`,
      ...s.corners.map(
        (c) =>
          `  ${c.label.padEnd(11)} ${c.what.padEnd(29)} loss ${pm(c.performance.loss, c.se.loss)}   accuracy ${pm(c.performance.accuracy, c.se.accuracy, 3)}   (c_σ ${c.cSigma.toFixed(2)}, step ${c.scale.toFixed(3)})`
      ),
      ...s.effects.map(
        (e) => `  ${e.label.padEnd(50)} Δloss ${pm(e.difference.loss.mean, e.difference.loss.se)}   Δaccuracy ${pm(e.difference.accuracy.mean, e.difference.accuracy.se, 3)}`
      )
    ]),
    "(± standard errors over contexts; differences paired on the same contexts)"
  ].join("\n")

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [runDir] = process.argv.slice(2)
  if (runDir === undefined) {
    process.stderr.write("usage: pnpm tsx examples/four-corners.ts <run folder>\n")
    process.exit(2)
  }
  fourCorners(runDir).pipe(
    Effect.tap((sets) => Console.log(formatFourCorners(sets))),
    Effect.provide(Layer.merge(ServicesLive, TerminalLoggingLive)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )
}
