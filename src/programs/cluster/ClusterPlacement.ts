/**
 * The cluster placement of a sweep's runs (`run --cluster <url>`): each run is sent as a persisted message to the
 * Run entity whose id is the run id, every run at once; the runners train them; when a runner's reply arrives, the
 * run's files are read from PostgreSQL (each checked against its SHA-256) and written into the sweep folder
 * atomically, summary.json last. Sending is idempotent by run id, so rerunning the command after the submitter died
 * reattaches to the runs it sent and collects their stored results; nothing is trained twice.
 */
import { EntityAddress, EntityId, MessageStorage, Sharding } from "@effect/cluster"
import { Effect, Layer, Option } from "effect"
import { RunFailed } from "../../domain/Errors.js"
import type { SweepRun } from "../../domain/Sweep.js"
import { ClientLive, redactUrl } from "../../services/cluster/ClusterLayers.js"
import { ClusterStore, databaseRetry, isConnectionError } from "../../services/cluster/ClusterStore.js"
import { RunEntity, Train } from "../../services/cluster/RunEntity.js"
import { RunStore } from "../../services/RunStore.js"
import { Placement, type PlacedRuns } from "../Placement.js"

const FINISHED = "summary.json"

/** A runner counts as alive while its heartbeat is this recent (the cluster's shard-lock expiration). */
const LIVE_WITHIN_SECONDS = 10

/** The Placement service over a cluster, with the client-only sharding layers it sends through. */
export const ClusterPlacementLive = (url: string) =>
  Layer.effect(
    Placement,
    Effect.gen(function* () {
      const sharding = yield* Sharding.Sharding
      const storage = yield* MessageStorage.MessageStorage
      const store = yield* ClusterStore
      const client = yield* RunEntity.client

      /** Clears a run's stored failure so that sending it again delivers it again (a transient failure is retried). */
      const redeliver = (runId: string) =>
        Effect.gen(function* () {
          const entityId = EntityId.make(runId)
          const address = EntityAddress.make({ entityType: RunEntity.type, entityId, shardId: sharding.getShardId(entityId, RunEntity.getShardGroup(entityId)) })
          const requestId = yield* storage.requestIdForPrimaryKey({ address, tag: Train._tag, id: runId })
          if (Option.isSome(requestId)) yield* sharding.reset(requestId.value)
        }).pipe(Effect.ignore)

      const storageFailure = (runId: string) => (error: { readonly message: string }) =>
        new RunFailed({ runId, reason: `cluster storage: ${error.message}`, transient: true })

      /** Writes a run's stored files into its folder, summary.json last (it marks the run finished). */
      const collect = (runId: string, dir: string) =>
        Effect.gen(function* () {
          const runStore = yield* RunStore
          const files = yield* store.files(runId).pipe(Effect.mapError(storageFailure(runId)))
          if (!files.some((file) => file.name === FINISHED)) {
            return yield* new RunFailed({ runId, reason: `the cluster holds no ${FINISHED} for this run`, transient: true })
          }
          yield* runStore.ensureDir(dir).pipe(Effect.mapError(storageFailure(runId)))
          for (const file of [...files.filter((f) => f.name !== FINISHED), ...files.filter((f) => f.name === FINISHED)]) {
            yield* runStore.writeBytes(runStore.join(dir, file.name), file.content).pipe(Effect.mapError(storageFailure(runId)))
          }
        })

      const execute = (run: SweepRun, dir: string) =>
        client(run.id)
          .Train({ runId: run.id, config: run.config })
          .pipe(
            Effect.retry({ while: (error) => error._tag === "PersistenceError" && isConnectionError(error.cause), schedule: databaseRetry }),
            Effect.catchTags({
              PersistenceError: storageFailure(run.id),
              MailboxFull: storageFailure(run.id),
              AlreadyProcessingMessage: storageFailure(run.id)
            }),
            Effect.tapError((error) => (error.transient ? redeliver(run.id) : Effect.void)),
            Effect.zipRight(collect(run.id, dir))
          )

      return {
        open: (runs) =>
          Effect.map(store.liveSlots(LIVE_WITHIN_SECONDS), (slots) => ({
            where: `the cluster at ${redactUrl(url)}`,
            // Every run is sent at once: the runners decide how many train at a time.
            concurrency: Math.max(1, runs),
            slots: Math.max(1, slots),
            detachedNote: "the sweep's runs go on training on the cluster; rerun the same command to collect them",
            execute
          }) satisfies PlacedRuns)
      }
    })
  ).pipe(Layer.provide(ClientLive(url)))
