/**
 * von Oswald et al.'s alignment metrics between a model and a reference, exactly as in their code (spec §5.3):
 *   preds diff  mean_t |ŷ_model − ŷ_ref|
 *   model cos   mean_t cos(g_model, g_ref), each g divided by (‖g‖ + 1e-8) first; g = ∂ŷ/∂x_q
 *   model diff  mean_t ‖g_model − g_ref‖₂
 */
import type { Predictions } from "./Model.js"

export interface RegressionAlignment {
  readonly predsDiff: number
  readonly modelCos: number
  readonly modelDiff: number
}

export const alignmentOf = (model: Predictions, reference: Predictions, d: number): RegressionAlignment => {
  const size = model.prediction.length
  let predsDiff = 0
  let modelCos = 0
  let modelDiff = 0
  for (let t = 0; t < size; t++) {
    predsDiff += Math.abs(model.prediction[t]! - reference.prediction[t]!)
    let dot = 0
    let mm = 0
    let rr = 0
    let diff = 0
    for (let k = 0; k < d; k++) {
      const a = model.sensitivity[t * d + k]!
      const b = reference.sensitivity[t * d + k]!
      dot += a * b
      mm += a * a
      rr += b * b
      diff += (a - b) ** 2
    }
    modelCos += dot / ((Math.sqrt(mm) + 1e-8) * (Math.sqrt(rr) + 1e-8))
    modelDiff += Math.sqrt(diff)
  }
  return { predsDiff: predsDiff / size, modelCos: modelCos / size, modelDiff: modelDiff / size }
}
