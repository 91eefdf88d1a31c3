/**
 * pnpm bench [--quick] [--regression] [--smoke]
 *
 * Times a full training step (fresh contexts sampled and differentiated in chunks on all threads, Adam) for linear and
 * softmax attention at the issue's settings, with the SIMD kernel and in JavaScript, next to the step's bound (its
 * flops and normal draws at the peak rates this machine's SIMD kernel measures, on every core) and the fraction of
 * it reached; the evaluation throughput of the GD references and alignment metrics; the regression engines (the fused
 * one- and K-layer kernels against TensorFlow.js autodiff); and (unless --quick) the main example runs as whole processes
 * (`pnpm start run`, start-up included) with their peak memory. When /usr/bin/python3 has torch, the PyTorch
 * baseline runs in the same invocation on the same settings. `--regression` times the regression engines alone;
 * `--smoke` prints the regression table from one step per row at a small batch and writes nothing (its test).
 * Prints a table; writes .bench/latest.json.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Option } from "effect"
import { ensureBuilt } from "../scripts/build.mjs"
import { CHUNK_TASKS } from "../src/domain/classification/ChunkedGradient.js"
import { defaults, type TaskConfig } from "../src/domain/classification/Config.js"
import { referencePredict } from "../src/domain/classification/GdMath.js"
import { copyWeights, initWeights, type ModelSpec } from "../src/domain/classification/Model.js"
import { initOptimizer, optimizerStep } from "../src/domain/classification/Optimizer.js"
import { simdChunks, simdPeakRates } from "../src/domain/classification/SimdKernel.js"
import { sampleTasks } from "../src/domain/classification/Task.js"
import { makeParallelGradient } from "../src/services/classification/ParallelGradient.js"
import { classificationKernel, regressionKernel } from "../src/services/Kernels.js"
import { resolveRegressionConfig } from "../src/domain/regression/Config.js"
import { deepKernelKind, makeChunkedDeepKernel } from "../src/domain/regression/ChunkedGradient.js"
import type { RegressionSpec } from "../src/domain/regression/Model.js"
import { makeOneLayerKernel } from "../src/domain/regression/FusedKernel.js"
import { sampleRegressionTasks } from "../src/domain/regression/Task.js"
import { regressionLossAndGradients } from "../src/services/regression/TfjsEngine.js"
import { initRegressionWeights, RegressionTrainer, regressionSpecOf } from "../src/services/regression/Trainer.js"
import { TfBackend } from "../src/services/TfBackend.js"
import { MetricsCollector } from "../src/services/classification/MetricsCollector.js"
import { ModelTrainer } from "../src/services/classification/ModelTrainer.js"

const root = join(import.meta.dirname, "..")
// The SIMD kernel and the bundle the example runs start from, built from the current sources.
await ensureBuilt()
const quick = process.argv.includes("--quick")
/** `--smoke`: every row with one repetition of one step at a small batch, nothing written: checks the table, not speed. */
const smoke = process.argv.includes("--smoke")
const regressionOnly = process.argv.includes("--regression") || smoke
const REPETITIONS = 5
const repetitions = smoke ? 1 : REPETITIONS
const SMOKE_BATCH = 40
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

const kernelLoad = classificationKernel()
if (!kernelLoad.loaded) process.stderr.write(`the SIMD kernel did not load (${kernelLoad.reason}): its columns are empty\n`)
const simd = kernelLoad.loaded ? kernelLoad.module : undefined

/** Threads that train: the training thread and its worker threads, one per core. */
const THREADS = 1 + defaults.runtime.samplerThreads

/** Normal draws per task of the cluster family: C class vectors, n context points and the query, d each. */
const normalsPerTask = (task: TaskConfig) => (task.C + task.n + 1) * task.d

/**
 * Floating-point operations (each multiply, add, subtract, divide, square root) of one task's forward and backward
 * pass in the fused kernel (assembly/classification.ts, FusedKernel), per key and per task; an exp counts as FastExp's
 * 19 operations, Math.exp and Math.log (C + 1 per task, in the loss) as one each.
 */
const flopsPerTask = (spec: ModelSpec, n: number) => {
  const { d, C } = spec
  const D = d + C
  const keys = spec.attendToQuery ? n + 1 : n
  const score = 2 * d // x·u and the label's u entry
  const exp = 19
  const weight = spec.attention === "linear" ? score + 1 : spec.attention === "exp" ? score + 3 + exp : score + 1 + 1 + exp
  const perKey = weight + 1 + 2 * d + 1 + (2 * d) + (spec.attention === "linear" ? 1 : spec.attention === "exp" ? 2 : 4) + 2 * d + 1
  const perTask =
    2 * D * d + // u = W_KQ e_q
    (spec.attention === "softmax" ? D + 1 : 0) + // h / Z
    C * 2 * D + // logits
    4 * C + 2 + // log-sum-exp, loss
    4 * C + // g_z
    2 * C * D + // ∇W_PV
    2 * C * D + // g_h
    (spec.attention === "softmax" ? 2 * D : 0) + // hᵀ g_h
    2 * D * d // ∇W_KQ
  return keys * perKey + perTask
}

/** This thread's peak rates of the SIMD kernel: its ziggurat loop's normals and its multiply-adds per second. */
const peak = simd === undefined ? null : simdPeakRates(simd)

/** The bound on a step: its flops and its normals at the SIMD kernel's peak rates, on every core. */
const boundMs = (s: Setting) => {
  if (peak === null) return null
  const task = { ...defaults.task, n: s.n }
  const flops = s.batch * flopsPerTask(specOf(s), s.n)
  const normals = s.batch * normalsPerTask(task)
  return { ms: (1000 * (flops / peak.flopsPerSecond + normals / peak.normalsPerSecond)) / THREADS, flops, normals }
}

/** ms per step of `stepAt` (median of REPETITIONS repetitions after a warm-up). */
const timeSteps = (stepAt: (step: number) => number, batch: number) => {
  let step = 1
  for (let i = 0; i < WARMUP_STEPS; i++) stepAt(step++)
  const repetitions: Array<number> = []
  for (let r = 0; r < REPETITIONS; r++) {
    const started = performance.now()
    const steps = stepsPerRepetition(batch)
    for (let i = 0; i < steps; i++) stepAt(step++)
    repetitions.push((performance.now() - started) / steps)
  }
  return { msPerStep: median(repetitions), repetitions }
}

/**
 * ms per full training step, as a run takes it: the session's own step (the fused engine sampling and differentiating
 * the batch's chunks on this thread and the worker threads, with the SIMD kernel when it loads), then Adam.
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
      return { ...timeSteps(stepAt, s.batch), kernel: session.kernel }
    })
  )

/** The same step computed in JavaScript (the kernel a run falls back to), on the same threads, then Adam. */
const timeJavaScriptStep = (s: Setting) =>
  Effect.scoped(
    Effect.gen(function* () {
      const task = { ...defaults.task, n: s.n }
      const spec = specOf(s)
      const weights = copyWeights(initWeights(spec, 0, defaults.model.initScale))
      const grads = { kq: new Float64Array(weights.D ** 2), pv: new Float64Array(weights.D ** 2) }
      const state = initOptimizer(weights.D)
      const pool = yield* makeParallelGradient({ spec, task, seed: 0, batchSize: s.batch, workers: defaults.runtime.samplerThreads })
      yield* Effect.sleep(WORKER_START_MS)
      const training = { ...defaults.training, batchSize: s.batch }
      return timeSteps((step) => {
        const loss = pool.lossAndGradient(step, weights, grads)
        optimizerStep(weights, grads, state, training)
        return loss
      }, s.batch).msPerStep
    })
  )

/** The parts of a step, each alone on this thread for the whole batch: sampling, and the loss and gradient. */
const stepParts = (s: Setting) => {
  if (simd === undefined) return null
  const task = { ...defaults.task, n: s.n }
  const spec = specOf(s)
  const chunks = simdChunks(simd, spec, task, CHUNK_TASKS)
  const weights = initWeights(spec, 0, defaults.model.initScale)
  const grads = { kq: new Float64Array(weights.D ** 2), pv: new Float64Array(weights.D ** 2) }
  const batchChunks = Math.ceil(s.batch / CHUNK_TASKS)
  const parts = { sample: [] as Array<number>, kernel: [] as Array<number> }
  for (let r = 0; r < REPETITIONS + 1; r++) {
    let sampleMs = 0
    let kernelMs = 0
    for (let c = 0; c < batchChunks; c++) {
      const count = Math.min(CHUNK_TASKS, s.batch - c * CHUNK_TASKS)
      const t0 = performance.now()
      chunks.sample(0, "train", r + 1, c * CHUNK_TASKS, count)
      const t1 = performance.now()
      chunks.lossAndGradient(weights, count, s.batch, grads)
      kernelMs += performance.now() - t1
      sampleMs += t1 - t0
    }
    if (r > 0) {
      parts.sample.push(sampleMs)
      parts.kernel.push(kernelMs)
    }
  }
  return { sampleMs: median(parts.sample), kernelMs: median(parts.kernel) }
}

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

/**
 * The PyTorch baseline script, shared/bench/torch_baseline.py in the nearest folder above the repository that has it
 * (the integration checkout's ../shared, or a worktree's further up).
 */
const torchBaseline = (() => {
  for (let dir = join(root, ".."); ; dir = join(dir, "..")) {
    const file = join(dir, "shared", "bench", "torch_baseline.py")
    if (existsSync(file)) return file
    if (dir === join(dir, "..")) return null
  }
})()

/** PyTorch's ms per step in one run of the baseline, or null when it cannot run. */
const torchRun = (s: Setting): number | null => {
  if (torchBaseline === null) return null
  const result = spawnSync(
    "/usr/bin/python3",
    [torchBaseline, "--attention", s.attention, "--batch", String(s.batch), "--n", String(s.n), "--steps", String(Math.ceil((50 * 512) / s.batch)), "--threads", "2"],
    { encoding: "utf8" }
  )
  if (result.status === 0) return JSON.parse(result.stdout.trim().split("\n").pop()!).ms_per_step as number
  process.stderr.write(`PyTorch baseline failed (${s.attention}, batch ${s.batch}, n ${s.n}): ${result.stderr}\n`)
  return null
}

/**
 * Rounds that alternate our measurement with one PyTorch run: this machine's speed drifts by tens of percent over
 * seconds, and a ratio taken within a round sees the same drift on both sides.
 */
const ROUNDS = 3

/** The main softmax run in PyTorch on an H100 GPU, measured for this project elsewhere (not on this machine). */
const H100_SOFTMAX_MAIN_SECONDS = [26, 29] as const

/**
 * One example run as a whole process, the way a user starts it (`pnpm start run`, start-up included), into a fresh
 * folder: wall time, peak memory (from /usr/bin/time when the machine has it) and the run's own record.
 */
const exampleRun = (file: string) => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-bench-"))
  try {
    const config = JSON.parse(readFileSync(join(root, file), "utf8"))
    const copy = join(dir, "config.json")
    writeFileSync(copy, JSON.stringify({ ...config, output: { ...config.output, dir: join(dir, "runs"), progress: false } }))
    const hasPnpm = spawnSync("pnpm", ["--version"], { encoding: "utf8" }).status === 0
    const command = hasPnpm ? ["pnpm", "--silent", "start", "run", copy] : [process.execPath, join(root, "scripts", "start.mjs"), "run", copy]
    const timed = existsSync("/usr/bin/time") ? ["/usr/bin/time", "-f", "peak-rss-kb %M", ...command] : command
    const started = performance.now()
    const result = spawnSync(timed[0]!, timed.slice(1), { encoding: "utf8", cwd: root })
    const wallSeconds = (performance.now() - started) / 1000
    if (result.status !== 0) throw new Error(`${file}: ${result.stderr}`)
    const peak = /peak-rss-kb (\d+)/.exec(result.stderr)
    const sweep = join(dir, "runs", config.name)
    const runDir = join(sweep, readdirSync(sweep).find((entry) => existsSync(join(sweep, entry, "run.json")))!)
    const run = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8"))
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8"))
    return {
      config: file,
      command: `${hasPnpm ? "pnpm start" : "node scripts/start.mjs"} run ${file}`,
      wallSeconds,
      runSeconds: run.wallSeconds as number,
      phaseSeconds: run.phaseSeconds,
      engine: run.engine,
      kernel: (run.kernel as string | undefined) ?? null,
      finalLoss: summary.final.model.loss as number,
      peakRssMb: peak === null ? null : Number(peak[1]) / 1024
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Regression models: the fused engine (the one-layer kernel; the K-layer kernel over chunks of 32 tasks, in WebAssembly
 * SIMD where it covers the model, and in JavaScript) against TensorFlow.js autodiff on the same batches (gradient
 * only, one thread each); and, for K ≥ 2, a whole training step as a run takes it (its batch sampled and
 * differentiated in chunks by the training thread and its worker threads, then Adam).
 */
const REGRESSION_SETTINGS = [
  { label: "linear-regression d 10 n 10, linear SA", config: { task: { family: "linear-regression" as const }, model: { attention: "linear" as const } }, batch: 2048 },
  { label: "gp exp d 3 n 20, softmax SA", config: { task: { family: "gp" as const, kernel: "exp" as const, d: 3, n: 20 }, model: { attention: "softmax" as const } }, batch: 512 }
]
const REGRESSION_LAYERS = [1, 2, 3, 4, 5]
/** The regression table's header (test/bench/Bench.test.ts reads the rows by its columns). */
const REGRESSION_HEADER =
  "setting                                   layers   batch     kernel   sample ms   fused ms     js ms   tfjs ms  fused speed-up   step ms      tfjs / step"
/** The JavaScript K-layer kernel per spec, made once. */
const javaScriptKernels = new Map<string, ReturnType<typeof makeChunkedDeepKernel>>()
const makeChunkedDeepKernelCached = (spec: RegressionSpec, n: number) => {
  const key = JSON.stringify([spec, n])
  let kernel = javaScriptKernels.get(key)
  if (kernel === undefined) {
    kernel = makeChunkedDeepKernel(spec, n)
    javaScriptKernels.set(key, kernel)
  }
  return kernel
}

const regressionEngines = Effect.gen(function* () {
  const { tf, name } = yield* (yield* TfBackend).acquire("auto")
  const trainer = yield* RegressionTrainer
  const load = regressionKernel()
  if (!load.loaded) process.stderr.write(`the regression SIMD kernel did not load (${load.reason}): the K-layer engine runs in JavaScript\n`)
  const simd = load.loaded ? load.module : undefined
  const rows = []
  for (const { label, config, batch: fullBatch } of REGRESSION_SETTINGS) {
    const batch = smoke ? SMOKE_BATCH : fullBatch
    const resolved = resolveRegressionConfig(config)
    const batches = Array.from({ length: 4 }, (_, i) => sampleRegressionTasks(resolved.task, 0, "train", i + 1, batch))
    const started = performance.now()
    for (let i = 0; i < 10; i++) sampleRegressionTasks(resolved.task, 0, "train", i + 10, batch)
    const sampleMs = (performance.now() - started) / 10
    for (const layers of REGRESSION_LAYERS) {
      const runConfig = { ...resolved, model: { ...resolved.model, layers }, training: { ...resolved.training, batchSize: batch } }
      const spec = regressionSpecOf(runConfig)
      const values = initRegressionWeights(spec, 0, 0.02)
      const grads = new Float64Array(values.length)
      const time = (compute: (b: (typeof batches)[number]) => number, steps: number) => {
        for (let i = 0; i < (smoke ? 1 : 3); i++) compute(batches[i % 4]!)
        const runs = Array.from({ length: repetitions }, () => {
          const t = performance.now()
          for (let i = 0; i < steps; i++) compute(batches[i % 4]!)
          return (performance.now() - t) / steps
        })
        return median(runs)
      }
      const steps = (one: number, deeper: number) => (smoke ? 1 : layers === 1 ? one : deeper)
      // The engine a run uses: the one-layer kernel, or the K-layer kernel (SIMD where it covers the model).
      const kernel = layers === 1 ? makeOneLayerKernel(spec, resolved.task.n) : makeChunkedDeepKernel(spec, resolved.task.n, simd)
      const kernelName = layers === 1 ? "one-layer" : deepKernelKind(spec, simd)
      const fused = time((b) => kernel(values, b, grads), steps(40, 8))
      const javaScript = layers === 1 ? null : time((b) => makeChunkedDeepKernelCached(spec, resolved.task.n)(values, b, grads), steps(0, 4))
      const tfjs = time((b) => regressionLossAndGradients(tf, spec, values, b, grads), steps(5, 2))
      const step =
        layers === 1
          ? null
          : yield* Effect.scoped(
              Effect.gen(function* () {
                const session = yield* trainer.open({ ...runConfig, seed: 0 })
                const open = Option.getOrThrow(session.trainingSteps)
                const stepAt = yield* open(defaults.runtime.samplerThreads)
                // Worker threads take a moment to load; a run's first steps are taken without them.
                yield* Effect.sleep(smoke ? 0 : WORKER_START_MS)
                let at = 1
                return time(() => stepAt(at++), steps(0, 8))
              })
            )
      rows.push({ label, layers, batch, kernel: kernelName, sampleMs, fusedMs: fused, javaScriptMs: javaScript, tfjsMs: tfjs, stepMs: step, backend: name })
    }
  }
  return rows
})

const main = Effect.gen(function* () {
  const hasTorch = torchAvailable()
  const rows = []
  for (const s of regressionOnly ? [] : SETTINGS) {
    const rounds: Array<{ readonly ours: number; readonly torch: number | null }> = []
    let kernel: string | null = null
    for (let r = 0; r < (hasTorch ? ROUNDS : 1); r++) {
      const ours = yield* timeTrainingStep(s)
      kernel = ours.kernel
      rounds.push({ ours: ours.msPerStep, torch: hasTorch ? torchRun(s) : null })
    }
    const torchRuns = rounds.flatMap((r) => (r.torch === null ? [] : [r.torch]))
    const msPerStep = median(rounds.map((r) => r.ours))
    const bound = boundMs(s)
    rows.push({
      ...s,
      kernel,
      msPerStep,
      bound,
      fractionOfBound: bound === null ? null : bound.ms / msPerStep,
      parts: stepParts(s),
      javaScriptMsPerStep: yield* timeJavaScriptStep(s),
      rounds,
      torchMsPerStep: torchRuns.length > 0 ? median(torchRuns) : null,
      speedup: torchRuns.length > 0 ? median(rounds.flatMap((r) => (r.torch === null ? [] : [r.torch / r.ours]))) : null
    })
  }
  const evaluation = regressionOnly ? null : yield* evaluationThroughput
  const regression = yield* regressionEngines
  const examples = quick || regressionOnly ? [] : ["examples/linear-main.json", "examples/softmax-main.json", "examples/regression-main.json"].map(exampleRun)
  return { threads: THREADS, peak, rows, evaluation, regression, examples, hasTorch, benchPeakRssMb: process.resourceUsage().maxRSS / 1024 }
})

const report = await Effect.runPromise(
  main.pipe(
    Effect.provide(MetricsCollector.Default),
    Effect.provide(ModelTrainer.Default),
    Effect.provide(RegressionTrainer.Default),
    Effect.provide(TfBackend.Default)
  )
)
const fmt = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? "—" : v.toFixed(digits))
const softmaxMain = report.examples.find((e) => e.config === "examples/softmax-main.json")
const classificationLines = [
  `training step (fused engine, ${report.rows[0]?.kernel ?? "—"} kernel: the training thread and ${defaults.runtime.samplerThreads} worker thread(s) each sample and differentiate chunks of ${CHUNK_TASKS} tasks; median of ${REPETITIONS} repetitions of ${STEPS_PER_REPETITION} steps × 512/batch after ${WARMUP_STEPS} warm-up)`,
  report.peak === null
    ? "bound: — (no SIMD kernel)"
    : `bound: a step's flops at ${fmt(report.peak.flopsPerSecond / 1e9, 2)} GFLOP/s and its normal draws at ${fmt(report.peak.normalsPerSecond / 1e6, 0)} M/s (this machine's SIMD kernel, one thread) on ${report.threads} threads`,
  `attention   batch     n   ms/step   bound ms   of bound   (1 thread: sample ms  kernel ms)   JavaScript ms/step   torch ms/step   speed-up (median over ${ROUNDS} alternating rounds)`,
  ...report.rows.map(
    (r) =>
      `${r.attention.padEnd(9)} ${String(r.batch).padStart(7)} ${String(r.n).padStart(5)} ${fmt(r.msPerStep).padStart(9)} ${fmt(r.bound?.ms).padStart(10)} ${`${fmt(r.fractionOfBound === null ? null : 100 * r.fractionOfBound, 0)}%`.padStart(10)}   (${fmt(r.parts?.sampleMs).padStart(20)} ${fmt(r.parts?.kernelMs).padStart(10)})   ${fmt(r.javaScriptMsPerStep).padStart(18)}   ${fmt(r.torchMsPerStep).padStart(13)}   ${r.speedup === null ? "—" : `${fmt(r.speedup, 1)}×  (rounds: ${r.rounds.map((x) => (x.torch === null ? "—" : `${fmt(x.torch / x.ours, 1)}×`)).join(", ")})`}`
  )
]
const lines = [
  ...(regressionOnly ? [] : classificationLines),
  regressionOnly
    ? ""
    : report.hasTorch
      ? torchBaseline === null
        ? "(PyTorch baseline skipped: no shared/bench/torch_baseline.py in a folder above the repository)"
        : ""
      : "(PyTorch baseline skipped: /usr/bin/python3 has no torch; apt-get install -y python3-torch)",
  report.evaluation === null
    ? ""
    : `evaluation on ${report.evaluation.contexts} contexts: CA-KGD predictions + Jacobians ${Math.round(report.evaluation.referenceContextsPerSecond)} contexts/s; full evaluation point (model, reference, alignment) ${Math.round(report.evaluation.evaluationPointContextsPerSecond)} contexts/s (${fmt(report.evaluation.evaluationPointMs, 0)} ms)`,
  `regression gradient (median of ${repetitions}; one thread, sampling not included; fused: the engine a run uses, kernel: one-layer, or the K-layer kernel in wasm-simd or javascript; TensorFlow.js on ${report.regression[0]?.backend ?? "—"}); step: a whole training step on ${THREADS} threads (sampling, gradient, Adam)`,
  REGRESSION_HEADER,
  ...report.regression.map(
    (r) =>
      `${r.label.padEnd(41)} ${String(r.layers).padStart(6)} ${String(r.batch).padStart(7)} ${r.kernel.padStart(10)} ${fmt(r.sampleMs).padStart(11)} ${fmt(r.fusedMs).padStart(10)} ${fmt(r.javaScriptMs).padStart(9)} ${fmt(r.tfjsMs).padStart(9)} ${`${fmt(r.tfjsMs / r.fusedMs, 1)}×`.padStart(15)} ${fmt(r.stepMs).padStart(9)} ${(r.stepMs === null ? "—" : `${fmt(r.tfjsMs / r.stepMs, 1)}×`).padStart(16)}`
  ),
  ...report.examples.map(
    (e) =>
      `example ${e.command}: ${fmt(e.wallSeconds, 1)} s wall as a whole process (the run ${fmt(e.runSeconds, 1)} s: references ${fmt(e.phaseSeconds.references, 1)} s, training ${fmt(e.phaseSeconds.training, 1)} s, evaluation ${fmt(e.phaseSeconds.evaluation, 1)} s, checkpoints ${fmt(e.phaseSeconds.checkpoints, 3)} s), ${e.engine.engine} engine${e.kernel ? ` (${e.kernel})` : ""}, peak RSS ${fmt(e.peakRssMb, 0)} MB, final loss ${fmt(e.finalLoss, 4)}`
  ),
  ...(softmaxMain === undefined
    ? []
    : [
        `main softmax example: ${fmt(softmaxMain.wallSeconds, 1)} s here against ${H100_SOFTMAX_MAIN_SECONDS.join("–")} s in PyTorch on an H100 GPU (measured elsewhere): ${fmt(H100_SOFTMAX_MAIN_SECONDS[0] / softmaxMain.wallSeconds, 1)}–${fmt(H100_SOFTMAX_MAIN_SECONDS[1] / softmaxMain.wallSeconds, 1)}× faster`
      ]),
  `bench process peak RSS ${fmt(report.benchPeakRssMb, 0)} MB`
]
process.stdout.write(`${lines.join("\n")}\n`)
if (smoke) {
  process.stdout.write("smoke run (one step per row, batch 40): nothing written\n")
  process.exit(0)
}
mkdirSync(join(root, ".bench"), { recursive: true })
const json = JSON.stringify({ date: new Date().toISOString(), node: process.version, ...report }, null, 2)
writeFileSync(join(root, ".bench", "latest.json"), `${json}\n`)
process.stdout.write(`wrote .bench/latest.json\n`)
