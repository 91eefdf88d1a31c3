/**
 * pnpm bench [--quick]
 *
 * Times a full training step (fresh contexts sampled and differentiated in chunks on all threads, Adam) for linear and
 * softmax attention at the issue's settings, the evaluation throughput of the GD references and alignment metrics,
 * the regression engines (the fused one- and K-layer kernels against TensorFlow.js autodiff), and (unless --quick) the wall time
 * and peak memory of the main example runs. When /usr/bin/python3 has torch, the
 * PyTorch baseline runs in the same invocation on the same settings. Prints a table; writes .bench/latest.json.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Option } from "effect"
import { CHUNK_TASKS } from "../src/domain/classification/ChunkedGradient.js"
import { defaults } from "../src/domain/classification/Config.js"
import { makeFusedKernel } from "../src/domain/classification/FusedKernel.js"
import { referencePredict } from "../src/domain/classification/GdMath.js"
import { initWeights, type ModelSpec } from "../src/domain/classification/Model.js"
import { sampleTasks } from "../src/domain/classification/Task.js"
import { resolveRegressionConfig } from "../src/domain/regression/Config.js"
import { makeChunkedDeepKernel } from "../src/domain/regression/ChunkedGradient.js"
import { makeOneLayerKernel } from "../src/domain/regression/FusedKernel.js"
import { sampleRegressionTasks } from "../src/domain/regression/Task.js"
import { regressionLossAndGradients } from "../src/services/regression/TfjsEngine.js"
import { initRegressionWeights, regressionSpecOf } from "../src/services/regression/Trainer.js"
import { TfBackend } from "../src/services/TfBackend.js"
import { MetricsCollector } from "../src/services/classification/MetricsCollector.js"
import { ModelTrainer } from "../src/services/classification/ModelTrainer.js"

const root = join(import.meta.dirname, "..")
const quick = process.argv.includes("--quick")
const REPETITIONS = 5
/** Steps per repetition at batch 512; smaller batches take proportionally more, so that every repetition spans about
 * the same time (a 30 ms repetition is at the mercy of this machine's hiccups). */
const STEPS_PER_REPETITION = 40
const stepsPerRepetition = (batch: number) => Math.ceil((STEPS_PER_REPETITION * 512) / batch)
const WARMUP_STEPS = 20
const WORKER_START_MS = 1500

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Setting {
  readonly attention: "linear" | "softmax"
  readonly batch: number
  readonly n: number
}
const SETTINGS: ReadonlyArray<Setting> = (["linear", "softmax"] as const).flatMap((attention) => [
  { attention, batch: 512, n: 100 },
  { attention, batch: 128, n: 100 },
  { attention, batch: 512, n: 200 }
])

const specOf = (s: Setting): ModelSpec => ({ attention: s.attention, attendToQuery: s.attention !== "softmax", expShift: 0, d: 5, C: 5 })

/**
 * ms per full training step, as a run takes it: the session's own step (the fused engine sampling and differentiating
 * the batch's chunks on this thread and the worker threads), then Adam.
 */
const timeTrainingStep = (s: Setting) =>
  Effect.scoped(
    Effect.gen(function* () {
      const trainer = yield* ModelTrainer
      const task = { ...defaults.task, n: s.n }
      const config = { ...defaults, task, model: { ...defaults.model, attention: s.attention }, training: { ...defaults.training, batchSize: s.batch } }
      const session = yield* trainer.open(config)
      const open = Option.getOrThrow(session.trainingSteps)
      const stepAt = yield* open(task, 0, s.batch, defaults.runtime.samplerThreads)
      // Worker threads take a moment to load; a run's first steps are taken without them.
      yield* Effect.sleep(WORKER_START_MS)
      let step = 1
      for (let i = 0; i < WARMUP_STEPS; i++) stepAt(step++)
      const repetitions: Array<number> = []
      for (let r = 0; r < REPETITIONS; r++) {
        const started = performance.now()
        const steps = stepsPerRepetition(s.batch)
        for (let i = 0; i < steps; i++) stepAt(step++)
        repetitions.push((performance.now() - started) / steps)
      }
      // The parts, each alone on this thread: sampling the whole batch, and the kernel on it.
      const spec = specOf(s)
      const kernel = makeFusedKernel(spec)
      const weights = initWeights(spec, 0, defaults.model.initScale)
      const grads = { kq: new Float64Array(weights.D ** 2), pv: new Float64Array(weights.D ** 2) }
      const batch = sampleTasks(task, 0, "train", 1, s.batch)
      const parts = { sample: [] as Array<number>, kernel: [] as Array<number> }
      for (let r = 0; r < REPETITIONS; r++) {
        let t = performance.now()
        for (let i = 0; i < 10; i++) sampleTasks(task, 0, "train", i + 2, s.batch, 0, batch)
        parts.sample.push((performance.now() - t) / 10)
        t = performance.now()
        for (let i = 0; i < 10; i++) kernel(weights, batch, grads)
        parts.kernel.push((performance.now() - t) / 10)
      }
      return { msPerStep: median(repetitions), repetitions, sampleMs: median(parts.sample), kernelMs: median(parts.kernel) }
    })
  )

const evaluationThroughput = Effect.gen(function* () {
  const metrics = yield* MetricsCollector
  const set = sampleTasks(defaults.task, 1001, "evaluation", 0, 10000)
  const spec = specOf({ attention: "softmax", batch: 0, n: 100 })
  const weights = initWeights(spec, 0, 0.5)
  const shape = { kind: "ca-kgd" as const, D: 10, selfAttend: false }
  const params = { cSigma: 30, scale: 8 }
  const reference: Array<number> = []
  const full: Array<number> = []
  const atGridOptimum = yield* metrics.scoreReference(shape, params, set)
  for (let r = 0; r < REPETITIONS; r++) {
    let t = performance.now()
    referencePredict(shape, params, set, true)
    reference.push(performance.now() - t)
    t = performance.now()
    yield* metrics.evaluate({ step: 0, trainLoss: null, spec, weights, initial: weights, set, gridParams: params, atGridOptimum })
    full.push(performance.now() - t)
  }
  return {
    contexts: set.size,
    referenceContextsPerSecond: set.size / (median(reference) / 1000),
    evaluationPointContextsPerSecond: set.size / (median(full) / 1000),
    evaluationPointMs: median(full)
  }
})

const torchAvailable = () => spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" }).status === 0

/** PyTorch's ms per step in one run of the baseline, or null when it cannot run. */
const torchRun = (s: Setting): number | null => {
  const result = spawnSync(
    "/usr/bin/python3",
    [join(root, "..", "shared", "bench", "torch_baseline.py"), "--attention", s.attention, "--batch", String(s.batch), "--n", String(s.n), "--steps", String(Math.ceil((50 * 512) / s.batch)), "--threads", "2"],
    { encoding: "utf8" }
  )
  return result.status === 0 ? (JSON.parse(result.stdout.trim().split("\n").pop()!).ms_per_step as number) : null
}

/**
 * Rounds that alternate our measurement with one PyTorch run: this machine's speed drifts by tens of percent over
 * seconds, and a ratio taken within a round sees the same drift on both sides.
 */
const ROUNDS = 3

const exampleRun = (file: string) => {
  const loader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href
  const result = spawnSync(process.execPath, ["--import", loader, join(root, "bench", "RunExample.ts"), join(root, file)], {
    encoding: "utf8",
    cwd: root
  })
  if (result.status !== 0) throw new Error(`${file}: ${result.stderr}`)
  return JSON.parse(result.stdout.trim().split("\n").pop()!)
}

/**
 * Regression models: the fused engine (the one-layer kernel, and the K-layer kernel over chunks of 32 tasks) against
 * TensorFlow.js autodiff on the same batches (gradient only, one thread each).
 */
const REGRESSION_SETTINGS = [
  { label: "linear-regression d 10 n 10, linear SA", config: { task: { family: "linear-regression" as const }, model: { attention: "linear" as const } }, batch: 2048 },
  { label: "gp exp d 3 n 20, softmax SA", config: { task: { family: "gp" as const, kernel: "exp" as const, d: 3, n: 20 }, model: { attention: "softmax" as const } }, batch: 512 }
]

const regressionEngines = Effect.gen(function* () {
  const { tf, name } = yield* (yield* TfBackend).acquire("auto")
  return REGRESSION_SETTINGS.flatMap(({ label, config, batch }) => {
    const resolved = resolveRegressionConfig(config)
    const batches = Array.from({ length: 4 }, (_, i) => sampleRegressionTasks(resolved.task, 0, "train", i + 1, batch))
    const started = performance.now()
    for (let i = 0; i < 10; i++) sampleRegressionTasks(resolved.task, 0, "train", i + 10, batch)
    const sampleMs = (performance.now() - started) / 10
    return [1, 2, 3, 5].map((layers) => {
      const spec = regressionSpecOf({ ...resolved, model: { ...resolved.model, layers } })
      const values = initRegressionWeights(spec, 0, 0.02)
      const grads = new Float64Array(values.length)
      const time = (compute: (b: (typeof batches)[number]) => number, steps: number) => {
        for (let i = 0; i < 3; i++) compute(batches[i % 4]!)
        const runs = Array.from({ length: REPETITIONS }, () => {
          const t = performance.now()
          for (let i = 0; i < steps; i++) compute(batches[i % 4]!)
          return (performance.now() - t) / steps
        })
        return median(runs)
      }
      const kernel = layers === 1 ? makeOneLayerKernel(spec, resolved.task.n) : makeChunkedDeepKernel(spec, resolved.task.n)
      // Repetitions of about the same length: the one-layer kernel is two orders of magnitude faster.
      const fused = time((b) => kernel(values, b, grads), layers === 1 ? 40 : 4)
      const tfjs = time((b) => regressionLossAndGradients(tf, spec, values, b, grads), layers === 1 ? 5 : 2)
      return { label, layers, batch, sampleMs, fusedMs: fused, tfjsMs: tfjs, backend: name }
    })
  })
})

const main = Effect.gen(function* () {
  const hasTorch = torchAvailable()
  const rows = []
  for (const s of SETTINGS) {
    const rounds: Array<{ readonly ours: number; readonly torch: number | null }> = []
    let parts: { readonly sampleMs: number; readonly kernelMs: number } | undefined
    for (let r = 0; r < (hasTorch ? ROUNDS : 1); r++) {
      const ours = yield* timeTrainingStep(s)
      parts ??= ours
      rounds.push({ ours: ours.msPerStep, torch: hasTorch ? torchRun(s) : null })
    }
    const torchRuns = rounds.flatMap((r) => (r.torch === null ? [] : [r.torch]))
    rows.push({
      ...s,
      msPerStep: median(rounds.map((r) => r.ours)),
      sampleMs: parts!.sampleMs,
      kernelMs: parts!.kernelMs,
      rounds,
      torchMsPerStep: torchRuns.length > 0 ? median(torchRuns) : null,
      speedup: torchRuns.length > 0 ? median(rounds.flatMap((r) => (r.torch === null ? [] : [r.torch / r.ours]))) : null
    })
  }
  const evaluation = yield* evaluationThroughput
  const regression = yield* regressionEngines
  const examples = quick ? [] : ["examples/linear-main.json", "examples/softmax-main.json", "examples/regression-main.json"].map(exampleRun)
  return { rows, evaluation, regression, examples, hasTorch, benchPeakRssMb: process.resourceUsage().maxRSS / 1024 }
})

const report = await Effect.runPromise(
  main.pipe(Effect.provide(MetricsCollector.Default), Effect.provide(ModelTrainer.Default), Effect.provide(TfBackend.Default))
)
const fmt = (v: number | null, digits = 2) => (v === null ? "—" : v.toFixed(digits))
const lines = [
  `training step (fused engine: the training thread and ${defaults.runtime.samplerThreads} worker thread(s) each sample and differentiate chunks of ${CHUNK_TASKS} tasks; median of ${REPETITIONS} repetitions of ${STEPS_PER_REPETITION} steps × 512/batch after ${WARMUP_STEPS} warm-up)`,
  `attention   batch     n   ms/step   (sample ms  kernel ms)   torch ms/step   speed-up (median over ${ROUNDS} alternating rounds)`,
  ...report.rows.map(
    (r) =>
      `${r.attention.padEnd(9)} ${String(r.batch).padStart(7)} ${String(r.n).padStart(5)} ${fmt(r.msPerStep).padStart(9)}   (${fmt(r.sampleMs).padStart(9)} ${fmt(r.kernelMs).padStart(10)})   ${fmt(r.torchMsPerStep).padStart(13)}   ${r.speedup === null ? "—" : `${fmt(r.speedup, 1)}×  (rounds: ${r.rounds.map((x) => (x.torch === null ? "—" : `${fmt(x.torch / x.ours, 1)}×`)).join(", ")})`}`
  ),
  report.hasTorch ? "" : "(PyTorch baseline skipped: /usr/bin/python3 has no torch; apt-get install -y python3-torch)",
  `evaluation on ${report.evaluation.contexts} contexts: CA-KGD predictions + Jacobians ${Math.round(report.evaluation.referenceContextsPerSecond)} contexts/s; full evaluation point (model, reference, alignment) ${Math.round(report.evaluation.evaluationPointContextsPerSecond)} contexts/s (${fmt(report.evaluation.evaluationPointMs, 0)} ms)`,
  `regression gradient step (median of ${REPETITIONS}; sampling not included; TensorFlow.js on ${report.regression[0]?.backend ?? "—"})`,
  "setting                                   layers   batch   sample ms   fused ms   tfjs ms   fused speed-up",
  ...report.regression.map(
    (r) =>
      `${r.label.padEnd(41)} ${String(r.layers).padStart(6)} ${String(r.batch).padStart(7)} ${fmt(r.sampleMs).padStart(11)} ${fmt(r.fusedMs).padStart(10)} ${fmt(r.tfjsMs).padStart(9)}   ${fmt(r.tfjsMs / r.fusedMs, 1)}×`
  ),
  ...report.examples.map(
    (e) =>
      `example ${e.config}: ${fmt(e.wallSeconds, 1)} s wall (references ${fmt(e.phaseSeconds.references, 1)} s, training ${fmt(e.phaseSeconds.training, 1)} s, evaluation ${fmt(e.phaseSeconds.evaluation, 1)} s, checkpoints ${fmt(e.phaseSeconds.checkpoints, 3)} s = ${fmt((100 * e.phaseSeconds.checkpoints) / e.wallSeconds, 3)}%), ${e.engine.engine} engine, peak RSS ${fmt(e.peakRssMb, 0)} MB, final loss ${fmt(e.finalLoss, 4)}`
  ),
  `bench process peak RSS ${fmt(report.benchPeakRssMb, 0)} MB`
]
process.stdout.write(`${lines.join("\n")}\n`)
mkdirSync(join(root, ".bench"), { recursive: true })
const json = JSON.stringify({ date: new Date().toISOString(), node: process.version, ...report }, null, 2)
writeFileSync(join(root, ".bench", "latest.json"), `${json}\n`)
process.stdout.write(`wrote .bench/latest.json\n`)
