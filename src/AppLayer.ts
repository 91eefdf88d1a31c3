/**
 * The one place where the live services are put together.
 */
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import { FigureRenderer } from "./services/FigureRenderer.js"
import { GdReference } from "./services/GdReference.js"
import { MetricsCollector } from "./services/MetricsCollector.js"
import { ModelTrainer } from "./services/ModelTrainer.js"
import { RegressionReferences } from "./services/RegressionReferences.js"
import { RegressionTrainer } from "./services/RegressionTrainer.js"
import { RunStore } from "./services/RunStore.js"
import { TaskSampler } from "./services/TaskSampler.js"
import { TfBackend } from "./services/TfBackend.js"

/** Every service a program of this package needs, without logging (the CLI adds its own). */
export const ServicesLive = Layer.mergeAll(
  TaskSampler.Default,
  TfBackend.Default,
  ModelTrainer.Default,
  GdReference.Default,
  MetricsCollector.Default,
  RegressionTrainer.Default,
  RegressionReferences.Default,
  RunStore.Default,
  FigureRenderer.Default,
  NodeContext.layer
)
