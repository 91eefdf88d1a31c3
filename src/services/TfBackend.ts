/**
 * TensorFlow.js, loaded on demand with the best backend this machine has: the native tfjs-node addon when it loads,
 * else the wasm backend, else the pure-JS cpu backend. The choice is logged and reported with every run.
 */
import { Effect } from "effect"
import type { BackendChoice } from "../domain/ConfigSchema.js"
import { BackendUnavailable } from "../domain/Errors.js"

export type TfCore = typeof import("@tensorflow/tfjs-core")
export type BackendName = "tfjs-node" | "wasm" | "cpu"

export interface LoadedBackend {
  readonly name: BackendName
  readonly tf: TfCore
}

const firstLine = (error: unknown): string => String(error instanceof Error ? error.message : error).split("\n")[0]!

/**
 * tfjs-core's Node build registers no gradient functions: they come with the @tensorflow/tfjs bundle, which registers
 * them in tfjs's global registry when loaded. Without it autodiff fails ("gradient function not found") on wasm and cpu.
 */
const registerGradients = () => import("@tensorflow/tfjs")

const activate = async (name: BackendName): Promise<TfCore> => {
  switch (name) {
    case "tfjs-node": {
      const tf = (await import("@tensorflow/tfjs-node")) as unknown as TfCore
      if (!(await tf.setBackend("tensorflow"))) throw new Error("setBackend('tensorflow') returned false")
      return tf
    }
    case "wasm": {
      const tf = await import("@tensorflow/tfjs-core")
      await registerGradients()
      await import("@tensorflow/tfjs-backend-wasm")
      if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') returned false")
      return tf
    }
    case "cpu": {
      const tf = await import("@tensorflow/tfjs-core")
      await registerGradients()
      await import("@tensorflow/tfjs-backend-cpu")
      if (!(await tf.setBackend("cpu"))) throw new Error("setBackend('cpu') returned false")
      return tf
    }
  }
}

const load = (name: BackendName) =>
  Effect.tryPromise({
    try: async (): Promise<LoadedBackend> => {
      const tf = await activate(name)
      await tf.ready()
      // The engine's kernels only need float32; keeping tfjs quiet about its own registrations.
      tf.env().set("IS_TEST", false)
      return { name, tf }
    },
    catch: (error) => new BackendUnavailable({ backend: name, reason: firstLine(error) })
  })

const FALLBACK_ORDER: ReadonlyArray<BackendName> = ["tfjs-node", "wasm", "cpu"]

export class TfBackend extends Effect.Service<TfBackend>()("icl-gd/TfBackend", {
  effect: Effect.sync(() => {
    const loaded = new Map<BackendChoice, LoadedBackend>()
    /** The backend for a choice; "auto" walks tfjs-node → wasm → cpu and logs every fallback with its reason. */
    const acquire = (choice: BackendChoice): Effect.Effect<LoadedBackend, BackendUnavailable> =>
      Effect.suspend(() => {
        const cached = loaded.get(choice)
        if (cached) return Effect.succeed(cached)
        const attempt =
          choice === "auto"
            ? Effect.firstSuccessOf(
                FALLBACK_ORDER.map((name) =>
                  load(name).pipe(
                    Effect.tapError((error) =>
                      Effect.logInfo(`TensorFlow.js backend ${name} unavailable, trying the next`).pipe(
                        Effect.annotateLogs({ reason: error.reason })
                      )
                    )
                  )
                )
              )
            : load(choice)
        return attempt.pipe(
          Effect.tap((backend) => {
            loaded.set(choice, backend)
            return Effect.logInfo(`TensorFlow.js backend: ${backend.name}`)
          })
        )
      })
    return { acquire } as const
  })
}) {}
