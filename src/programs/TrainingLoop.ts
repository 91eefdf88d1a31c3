/**
 * The training loop every kind of run shares: Adam steps on fresh batches, evaluation points on a schedule (rows of
 * metrics.jsonl), checkpoints every `checkpointEvery` steps and on an interrupt, progress, and the wall-time clock per
 * phase. What a step, an evaluation point and a checkpoint are is the caller's.
 */
import { Effect, Option } from "effect"
import { TrainingDiverged } from "../domain/Errors.js"
import { makeProgress } from "../services/Logging.js"
import type { EngineInfo } from "../services/EngineInfo.js"
import { RunStore } from "../services/RunStore.js"
import { writeCheckpoint } from "./RunFolder.js"

/**
 * How often the training loop lets node's event loop turn (signals and worker messages are only seen there): the
 * effect runtime's own yields resume on the microtask queue, which runs before any event.
 */
const EVENT_LOOP_YIELD_MS = 20

const yieldToEventLoop = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

export interface PhaseSeconds {
  references: number
  training: number
  evaluation: number
  checkpoints: number
  /**
   * Wall seconds of the processes that worked on the run before this one, each up to its last checkpoint (absent in
   * checkpoints written before it was recorded). In a checkpoint: up to that checkpoint, this process included.
   */
  earlier?: number
}

/**
 * Seconds spent per phase, a combinator that adds an effect's wall time to a phase, and the run's wall time so far
 * (the earlier processes' and this one's since the clock was made).
 */
export const makePhaseClock = () => {
  const origin = performance.now()
  const clock: PhaseSeconds = { references: 0, training: 0, evaluation: 0, checkpoints: 0 }
  const wallSoFar = () => (clock.earlier ?? 0) + (performance.now() - origin) / 1000
  const timed = <A, E, R>(phase: keyof PhaseSeconds, effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const t0 = performance.now()
      return Effect.ensuring(
        effect,
        Effect.sync(() => {
          clock[phase] += (performance.now() - t0) / 1000
        })
      )
    })
  return { clock, timed, wallSoFar }
}

/** Where the loop stands: with the model's weights and optimizer state, what a checkpoint holds. */
export interface LoopPosition {
  /** The last optimizer step taken. */
  readonly step: number
  /** metrics.jsonl lines up to this step. */
  readonly rows: ReadonlyArray<string>
  /** Training-loss accumulator since the last evaluation point. */
  readonly lossSum: number
  readonly lossCount: number
  readonly clock: Readonly<PhaseSeconds>
}

export interface BatchSource<B> {
  /** A batch that is ready now, if any. */
  readonly poll: () => B | undefined
  /** The next batch, waiting for it. */
  readonly next: Effect.Effect<B>
  /** Hands a used batch back (to be refilled). */
  readonly release: (batch: B) => Effect.Effect<void>
}

/**
 * The steps of an engine that samples its own batches: each "batch" is the step itself, taken by `stepAt` when the
 * loop calls it.
 */
export const selfSampledSteps = (first: number, stepAt: (step: number) => number): BatchSource<() => number> => {
  let next = first
  const poll = () => {
    const step = next++
    return () => stepAt(step)
  }
  return { poll, next: Effect.sync(poll), release: () => Effect.void }
}

export interface TrainingLoopOptions<B, V extends { readonly point: unknown }, E, R, E2, R2> {
  readonly runId: string
  readonly file: (name: string) => string
  readonly steps: number
  /** The steps with an evaluation point (step 0 is evaluated when the run starts fresh). */
  readonly schedule: ReadonlySet<number>
  readonly checkpointEvery: number
  readonly progress: boolean
  readonly phases: ReturnType<typeof makePhaseClock>
  /** The position of the checkpoint the caller restored its model from, or none for a fresh run. */
  readonly resumed: Option.Option<LoopPosition>
  /** The batches for steps first, first + 1, … */
  readonly batches: (first: number) => Effect.Effect<BatchSource<B>, E2, R2>
  /** One optimizer step; returns the batch loss before it. */
  readonly step: (batch: B) => number
  /** The evaluation point at a step (its `point` is the metrics row). */
  readonly evaluate: (step: number, trainLoss: number | null) => Effect.Effect<V, E, R>
  readonly logEvaluation: (step: number, trainLoss: number, evaluation: V) => Effect.Effect<void>
  /** The checkpoint text: the model's state at this position. */
  readonly checkpoint: (position: LoopPosition) => string
  /**
   * Whether training should end at the evaluation point just made, given every metrics row so far (e.g. early stopping
   * once a run's outcome is decided). A function of the rows alone, so that a resumed run stops where an
   * uninterrupted one does. Never stops by default.
   */
  readonly stopAfter?: (rows: ReadonlyArray<string>) => boolean
}

/**
 * Trains from the resumed position (or from scratch) to `steps`, or until `stopAfter` says so at an evaluation point.
 * An interrupt lands between steps, where the state is consistent, and writes a checkpoint before stopping. Returns the
 * metrics rows, the last evaluation made in this process (none when resumed from the final checkpoint), the last step
 * trained and, when training stopped early, that step.
 */
export const trainingLoop = <B, V extends { readonly point: unknown }, E, R, E2, R2>(
  options: TrainingLoopOptions<B, V, E, R, E2, R2>
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const { clock, timed } = options.phases
    let rows: Array<string> = []
    let lossSum = 0
    let lossCount = 0
    let done = 0
    let last: V | undefined
    if (Option.isSome(options.resumed)) {
      const position = options.resumed.value
      rows = [...position.rows]
      lossSum = position.lossSum
      lossCount = position.lossCount
      done = position.step
      clock.training += position.clock.training
      clock.evaluation += position.clock.evaluation
      clock.checkpoints += position.clock.checkpoints ?? 0
      clock.earlier = (clock.earlier ?? 0) + (position.clock.earlier ?? 0)
    } else {
      last = yield* options.evaluate(0, null)
      rows.push(JSON.stringify(last.point))
    }
    const writeMetrics = () => store.writeText(options.file("metrics.jsonl"), `${rows.join("\n")}\n`)
    // Rows past the checkpoint (written before an interruption) are dropped: they will be computed again.
    yield* writeMetrics()
    const position = (): LoopPosition => ({ step: done, rows, lossSum, lossCount, clock: { ...clock, earlier: options.phases.wallSoFar() } })
    const save = () => writeCheckpoint(options.file, options.checkpoint(position()), options.runId)

    const progress = makeProgress(options.runId, options.steps, options.progress)
    const shouldStop = () => options.stopAfter !== undefined && options.stopAfter(rows)
    // A run checkpointed where it stopped early stops there again.
    let stoppedAt: number | null = done > 0 && done < options.steps && shouldStop() ? done : null
    let lastYield = performance.now()
    const training = Effect.gen(function* () {
      if (stoppedAt !== null) return
      const batches = yield* options.batches(done + 1)
      for (let step = done + 1; step <= options.steps; step++) {
        // The hot loop stays in plain code while batches are ready; it yields to the runtime when it must wait, and
        // to node's event loop every few milliseconds, where a signal (Ctrl-C) or a "stop" message is received.
        const started = performance.now()
        if (started - lastYield >= EVENT_LOOP_YIELD_MS) {
          yield* yieldToEventLoop
          lastYield = performance.now()
        }
        const batch = batches.poll() ?? (yield* batches.next)
        const loss = options.step(batch)
        yield* batches.release(batch)
        clock.training += (performance.now() - started) / 1000
        if (!Number.isFinite(loss)) return yield* new TrainingDiverged({ step, loss })
        done = step
        lossSum += loss
        lossCount += 1
        progress.update(step, `loss ${loss.toFixed(4)}`)
        if (options.schedule.has(step)) {
          const trainLoss = lossSum / lossCount
          lossSum = 0
          lossCount = 0
          // An evaluation point is not interrupted half-way (it may wait for helper threads): an interrupt that
          // arrives meanwhile lands once its row is in place, so that the checkpoint at this step holds that row.
          last = yield* Effect.uninterruptible(
            options.evaluate(step, trainLoss).pipe(Effect.tap((evaluation) => Effect.sync(() => rows.push(JSON.stringify(evaluation.point)))))
          )
          yield* writeMetrics()
          yield* options.logEvaluation(step, trainLoss, last)
          if (step < options.steps && shouldStop()) {
            stoppedAt = step
            yield* timed("checkpoints", save())
            yield* Effect.logInfo(`stopped early at step ${step} of ${options.steps}`)
            return
          }
        }
        if (step % options.checkpointEvery === 0 || step === options.steps) yield* timed("checkpoints", save())
      }
    })
    yield* training.pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function* () {
          progress.done()
          if (done > 0) yield* save()
          yield* Effect.logInfo(`interrupted: checkpoint written at step ${done}`)
        }).pipe(Effect.orDie)
      ),
      Effect.ensuring(Effect.sync(() => progress.done()))
    )
    return { rows, last, finalStep: done, stoppedAt }
  })

/**
 * run.json: how the run ran (engine, wall times per phase, the wall time summed over every process that worked on the
 * run); the only file that differs between identical runs.
 */
export const writeRunRecord = (
  file: (name: string) => string,
  record: {
    readonly runId: string
    readonly engine: EngineInfo
    /** What computed the engine's steps, when the engine has a choice (the fused engines' SIMD or JavaScript kernel). */
    readonly kernel?: string | null
    readonly startedAt: Date
    readonly resumedFromStep: number | null
    readonly clock: PhaseSeconds
  }
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const finishedAt = new Date()
    const thisProcess = (finishedAt.getTime() - record.startedAt.getTime()) / 1000
    const { earlier = 0, ...phases } = record.clock
    // The run's wall time: every process that worked on it (each up to its last checkpoint), this one in full.
    const wallSeconds = earlier + thisProcess
    yield* store.writeJson(file("run.json"), {
      runId: record.runId,
      status: "finished",
      engine: record.engine,
      ...(record.kernel ? { kernel: record.kernel } : {}),
      node: process.version,
      startedAt: record.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      wallSeconds,
      wallSecondsEarlierProcesses: earlier,
      wallSecondsThisProcess: thisProcess,
      resumedFromStep: record.resumedFromStep,
      phaseSeconds: phases
    })
    return wallSeconds
  })
