/**
 * Which engine computed a run's gradients, recorded in its summary and run.json: the fused engine (analytic
 * gradients in float64) or TensorFlow.js autodiff (float32) on a named backend.
 */
import type { BackendName } from "./TfBackend.js"

export type EngineName = "fused" | "tfjs"

export interface EngineInfo {
  readonly engine: EngineName
  /** The TensorFlow.js backend, when the tfjs engine runs. */
  readonly backend: BackendName | null
  readonly precision: "float64" | "float32"
}
