import { FileSystem } from "@effect/platform"
import { NodeContext, NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { ServicesLive } from "../src/AppLayer.js"
import { ExperimentServicesLive } from "../src/programs/Registry.js"
import { FigureRenderer } from "../src/services/FigureRenderer.js"
import { RunStore } from "../src/services/RunStore.js"
import { TfBackend } from "../src/services/TfBackend.js"
import { defaults, type ExperimentConfig, type TaskConfig } from "../src/domain/classification/Config.js"
import type { ModelSpec } from "../src/domain/classification/Model.js"
import { sampleTasks, type TaskBatch } from "../src/domain/classification/Task.js"

/** Float64 identities hold to rounding: sums of ~100 terms of size ~1 lose at most a few ulps each. */
export const FLOAT64_IDENTITY = 1e-12
/** Central differences with h = 1e-6 have truncation error O(h²)·f''' and rounding error O(ε/h) ≈ 1e-10. */
export const FINITE_DIFFERENCE = 1e-6
export const FD_STEP = 1e-6

/** Central differences of f in each entry of `target` (perturbed in place and restored), with step FD_STEP. */
export const centralDifferences = (target: Float64Array, f: () => number, indices: ReadonlyArray<number> = Array.from(target.keys())): Float64Array =>
  Float64Array.from(indices, (i) => {
    const saved = target[i]!
    target[i] = saved + FD_STEP
    const up = f()
    target[i] = saved - FD_STEP
    const down = f()
    target[i] = saved
    return (up - down) / (2 * FD_STEP)
  })

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.strictEqual(a.length, b.length, "length mismatch")
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!))
  return m
}

/** max |a − b| / max |b|: relative error of a whole array. */
export const relativeError = (a: ArrayLike<number>, b: ArrayLike<number>): number => maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-300)

export const assertClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string) => {
  const err = maxAbsDiff(actual, expected)
  assert.isTrue(err <= tolerance, `${what}: max abs diff ${err} > ${tolerance}`)
}

export const task = (overrides: Partial<TaskConfig> = {}): TaskConfig => ({ ...defaults.task, ...overrides })

export const tasks = (overrides: Partial<TaskConfig>, size: number, seed = 7): TaskBatch =>
  sampleTasks(task(overrides), seed, "evaluation", 0, size)

export const spec = (attention: ModelSpec["attention"], d = 5, C = 4, attendToQuery?: boolean): ModelSpec => ({
  attention,
  attendToQuery: attendToQuery ?? attention !== "softmax",
  expShift: 0,
  d,
  C
})

/** A config that trains in well under a second: small sets, few steps. */
export const tinyConfig = (overrides: {
  readonly model?: Partial<ExperimentConfig["model"]>
  readonly training?: Partial<ExperimentConfig["training"]>
  readonly task?: Partial<ExperimentConfig["task"]>
  readonly evaluation?: Partial<ExperimentConfig["evaluation"]>
  readonly output?: Partial<ExperimentConfig["output"]>
  readonly runtime?: Partial<ExperimentConfig["runtime"]>
  readonly earlyStop?: Partial<ExperimentConfig["earlyStop"]>
  readonly seed?: number
} = {}): ExperimentConfig => ({
  ...defaults,
  name: "tiny",
  seed: overrides.seed ?? 0,
  task: { ...defaults.task, n: 20, ...overrides.task },
  model: { ...defaults.model, attendToQuery: "auto", ...overrides.model },
  training: { ...defaults.training, batchSize: 32, steps: 40, ...overrides.training },
  evaluation: { ...defaults.evaluation, every: 20, logSpacedPoints: 3, size: 200, ...overrides.evaluation },
  references: { ...defaults.references, gridSize: 200, scanSize: 100, cSigma: { min: 0.1, max: 1000, count: 9 }, scale: { min: 0.01, max: 3162, count: 7 } },
  earlyStop: { ...defaults.earlyStop, ...overrides.earlyStop },
  output: { ...defaults.output, progress: false, ...overrides.output },
  runtime: { ...defaults.runtime, ...overrides.runtime }
})

/**
 * The console gets nothing from runs under test (each run's own log file still gets every line): keeps the test
 * output readable.
 */
export const QuietConsole = Logger.replace(Logger.defaultLogger, Logger.none)
export const QuietServicesLive = Layer.merge(ServicesLive, QuietConsole)

/** The platform file system with some of its operations replaced (to observe writes, or to make them fail). */
export const fileSystemWith = (override: (fs: FileSystem.FileSystem) => Partial<FileSystem.FileSystem>) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => ({ ...fs, ...override(fs) }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

/** The quiet live services, with the run store writing through `fileSystem`. */
export const quietServicesWith = (fileSystem: Layer.Layer<FileSystem.FileSystem>) =>
  Layer.mergeAll(
    ExperimentServicesLive,
    TfBackend.Default,
    RunStore.DefaultWithoutDependencies.pipe(Layer.provide(Layer.merge(fileSystem, NodePath.layer))),
    FigureRenderer.Default,
    NodeContext.layer,
    QuietConsole
  )
