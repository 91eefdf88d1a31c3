/**
 * The one place where the live services are put together: the shared ones and every experiment kind's own.
 */
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import { ExperimentServicesLive } from "./programs/Registry.js"
import { FigureRenderer } from "./services/FigureRenderer.js"
import { RunStore } from "./services/RunStore.js"
import { TfBackend } from "./services/TfBackend.js"

/** Every service a program of this package needs, without logging (the CLI adds its own). */
export const ServicesLive = Layer.mergeAll(ExperimentServicesLive, TfBackend.Default, RunStore.Default, FigureRenderer.Default, NodeContext.layer)
