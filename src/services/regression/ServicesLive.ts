/**
 * The services regression runs and reports need, beside the shared ones (RunStore, TfBackend, FigureRenderer).
 */
import { Layer } from "effect"
import { RegressionReferences } from "./References.js"
import { RegressionTrainer } from "./Trainer.js"

export const RegressionServicesLive = Layer.mergeAll(RegressionTrainer.Default, RegressionReferences.Default)
