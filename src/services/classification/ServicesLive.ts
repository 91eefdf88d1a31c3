/**
 * The services classification runs and reports need, beside the shared ones (RunStore, TfBackend, FigureRenderer).
 */
import { Layer } from "effect"
import { GdReference } from "./GdReference.js"
import { MetricsCollector } from "./MetricsCollector.js"
import { ModelTrainer } from "./ModelTrainer.js"
import { TaskSampler } from "./TaskSampler.js"

export const ClassificationServicesLive = Layer.mergeAll(TaskSampler.Default, ModelTrainer.Default, GdReference.Default, MetricsCollector.Default)
