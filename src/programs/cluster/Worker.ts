/**
 * `worker --cluster <url>`: a runner of the cluster. It takes a share of the shards, and trains the runs whose
 * messages land on them, up to `concurrency` at once on a pool of worker threads, each in a working folder of its
 * own on this machine. A run's folder starts from its newest checkpoint stored in PostgreSQL (one another runner
 * stored before it died, if any); every checkpoint it writes is stored there too; when it finishes, all its files
 * are stored there, the reply names them, and the local folder is removed. No file system is shared between machines.
 *
 * Delivery is at least once: a run whose files are already stored is answered from them without training again.
 */
import { FileSystem, Path } from "@effect/platform"
import { Cause, Duration, Effect, Either, Layer, Logger } from "effect"
import { RunFailed } from "../../domain/Errors.js"
import { runIdOf } from "../../domain/RunId.js"
import { checkpointStep, ClusterStore, type RunFile } from "../../services/cluster/ClusterStore.js"
import { RunnerLive, type RunnerOptions } from "../../services/cluster/ClusterLayers.js"
import { RunEntity, RunReceipt } from "../../services/cluster/RunEntity.js"
import { terminalLogger } from "../../services/Logging.js"
import { RunStore } from "../../services/RunStore.js"
import { decodeRunConfig } from "../Registry.js"
import { makeRunPool, threadConfig } from "../RunPool.js"

export interface WorkerOptions extends RunnerOptions {
  readonly url: string
  /** Runs trained at once. */
  readonly concurrency: number
  /** Where runs keep their working files while they train. */
  readonly workDir: string
  /** Retries of a transient failure on this runner before the failure is replied. */
  readonly retries?: number
}

/** How long storing one checkpoint may take: a slow database delays the next checkpoint, never the run. */
const CHECKPOINT_UPLOAD_TIMEOUT = Duration.seconds(10)

const isTemporary = (name: string) => name.startsWith(".") && name.endsWith(".tmp")

/** The handlers of the Run entity on this runner, sharing one pool of threads and `concurrency` slots. */
const RunHandlersLive = (options: WorkerOptions) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const store = yield* ClusterStore
      const runStore = yield* RunStore
      const pool = yield* makeRunPool(options.concurrency)
      const slots = yield* Effect.makeSemaphore(options.concurrency)
      const runner = `${options.host}:${options.port}`
      yield* fs.makeDirectory(options.workDir, { recursive: true })

      const asRunFailed = (runId: string) => (error: { readonly message: string }) =>
        new RunFailed({ runId, reason: `cluster storage: ${error.message}`, transient: true })

      /** The run's folder here, starting from its newest stored checkpoint when PostgreSQL has one. */
      const prepareFolder = (runId: string, dir: string) =>
        Effect.gen(function* () {
          yield* runStore.ensureDir(dir)
          const stored = yield* store.checkpoints(runId)
          for (const file of stored) yield* runStore.writeBytes(path.join(dir, file.name), file.content)
          return stored.length > 0
        })

      /** Every file of a finished run's folder (temporary files of a killed writer left out). */
      const readFolder = (dir: string) =>
        Effect.gen(function* () {
          const names = (yield* fs.readDirectory(dir)).filter((name) => !isTemporary(name)).sort()
          return yield* Effect.forEach(names, (name) => fs.readFile(path.join(dir, name)).pipe(Effect.map((content): RunFile => ({ name, content }))))
        })

      const receipt = (runId: string, trained: boolean, files: ReadonlyArray<RunFile>) =>
        new RunReceipt({ runId, runner, trained, files: files.length, bytes: files.reduce((sum, f) => sum + f.content.length, 0) })

      const storeCheckpoint = (runId: string) => (text: string) =>
        store.saveCheckpoint(runId, text, checkpointStep(text)).pipe(
          Effect.timeout(CHECKPOINT_UPLOAD_TIMEOUT),
          Effect.catchAllCause((cause) => Effect.logWarning(`run ${runId}: checkpoint not stored in the cluster (it stays here)`, cause))
        )

      const train = (runId: string, rawConfig: unknown) =>
        Effect.gen(function* () {
          const decoded = decodeRunConfig(rawConfig)
          if (Either.isLeft(decoded)) {
            const issues = decoded.left.map((i) => `${i.path}: ${i.message}`).join("; ")
            return yield* new RunFailed({ runId, reason: `this worker rejects the run's config (${issues}): it runs other code than the submitter`, transient: false })
          }
          const config = decoded.right
          if (runIdOf(config) !== runId) {
            return yield* new RunFailed({ runId, reason: `this worker computes run id ${runIdOf(config)} for the config: it runs other code than the submitter`, transient: false })
          }
          const finishedBefore = store.isFinished(runId).pipe(Effect.mapError(asRunFailed(runId)))
          if (yield* finishedBefore) return receipt(runId, false, [])
          return yield* slots.withPermits(1)(
            Effect.gen(function* () {
              // Another delivery of the same run may have finished it while this one waited for a slot.
              if (yield* finishedBefore) return receipt(runId, false, [])
              const dir = path.join(options.workDir, runId)
              const resumed = yield* prepareFolder(runId, dir).pipe(Effect.mapError(asRunFailed(runId)))
              yield* store.started(runId, runner, config.training.steps).pipe(Effect.mapError(asRunFailed(runId)))
              yield* Effect.logInfo(`run ${runId} started${resumed ? " from its stored checkpoint" : ""}`)
              const started = Date.now()
              yield* pool.run({ config: threadConfig(config), dir, recordedConfig: config }, runId, storeCheckpoint(runId)).pipe(
                Effect.tapError((error) =>
                  error.transient ? Effect.logWarning(`run ${runId} failed on this runner; retrying`).pipe(Effect.annotateLogs({ reason: error.reason })) : Effect.void
                ),
                Effect.retry({ times: options.retries ?? 2, while: (error) => error.transient })
              )
              const files = yield* readFolder(dir).pipe(Effect.mapError(asRunFailed(runId)))
              yield* store.saveFinished(runId, files).pipe(Effect.mapError(asRunFailed(runId)))
              yield* fs.remove(dir, { recursive: true }).pipe(Effect.ignore)
              yield* Effect.logInfo(`run ${runId} done in ${((Date.now() - started) / 1000).toFixed(1)}s; its ${files.length} files are stored in the cluster`)
              return receipt(runId, true, files)
            })
          )
        }).pipe(
          Effect.tapError((error) =>
            Effect.zipRight(
              Effect.logError(`run ${runId} failed: ${error.reason}`),
              store.failed(runId, error.reason).pipe(Effect.ignore)
            )
          )
        )

      return RunEntity.toLayer(
        RunEntity.of({
          Train: (request) => train(request.payload.runId, request.payload.config)
        }),
        { maxIdleTime: "10 seconds" }
      )
    })
  )

/** The worker's layers: the Run entity's handlers on a runner of the cluster at `options.url`. */
export const WorkerLive = (options: WorkerOptions) =>
  RunHandlersLive(options).pipe(Layer.provide(RunnerLive(options.url, { ...options, weight: options.concurrency })))

/**
 * The worker's terminal: a failure's cause in one line (the cluster logs every database hiccup, and a stack trace
 * per hiccup would bury the runs' lines).
 */
const WorkerLogging = Logger.replace(
  terminalLogger,
  Logger.mapInputOptions(terminalLogger, (options) => {
    if (Cause.isEmpty(options.cause)) return options
    const error = Cause.squash(options.cause) as { message?: unknown; cause?: unknown }
    const inner = (error?.cause as { cause?: { message?: unknown }; message?: unknown } | undefined) ?? undefined
    const text = [error?.message, inner?.message, inner?.cause?.message].filter((m): m is string => typeof m === "string" && m !== "").join(": ")
    return { ...options, cause: Cause.fail(text === "" ? Cause.pretty(options.cause).split("\n")[0] : text) }
  })
)

/** Runs a worker until it is interrupted (Ctrl-C, SIGTERM): its runs stop with a checkpoint and move to other runners. */
export const runWorker = (options: WorkerOptions) =>
  Effect.gen(function* () {
    yield* Effect.logInfo(
      `worker ${options.host}:${options.port} joined the cluster; training up to ${options.concurrency} run${options.concurrency === 1 ? "" : "s"} at once in ${options.workDir}`
    )
    return yield* Effect.never
  }).pipe(
    Effect.onInterrupt(() => Effect.logInfo("worker stopping: its runs checkpoint and move to the other workers")),
    Effect.provide(WorkerLive(options)),
    Effect.provide(WorkerLogging)
  )
