/**
 * The short plain-text result of a classification run that the CLI prints on stdout.
 */
import { fixed } from "../../domain/Results.js"
import type { RunResult } from "./Run.js"

export const formatRunResult = (result: RunResult): string => {
  const { summary } = result
  const f = summary.final
  const refs = summary.references
  const lines = [
    `run ${result.runId}${result.reused ? " (finished earlier; stored results)" : ""}`,
    `  folder            ${result.dir}`,
    `  model             ${summary.attention} attention, ${summary.steps} steps, ${summary.engine.engine} engine${summary.engine.backend ? ` (${summary.engine.backend})` : ""}`,
    `  eval loss         ${fixed(f.model.loss)}   accuracy ${fixed(f.model.accuracy, 3)}   p(correct) ${fixed(f.model.pCorrect, 3)}   entropy ${fixed(f.model.entropy, 3)}`,
    `  reference         ${f.reference.kind}: at extracted params ${fixed(f.reference.atExtracted.loss)}, at grid optimum ${fixed(f.reference.atGridOptimum.loss)}`,
    `  alignment (extr.) model cos ${fixed(f.alignment.atExtracted.modelCos)}   preds diff ${fixed(f.alignment.atExtracted.predsDiff)}   model diff ${fixed(f.alignment.atExtracted.modelDiff)}`,
    `  alignment (grid)  model cos ${fixed(f.alignment.atGridOptimum.modelCos)}   preds diff ${fixed(f.alignment.atGridOptimum.predsDiff)}`,
    f.alignment.atBasinOptimum
      ? `  alignment (${f.reference.basin} basin optimum) model cos ${fixed(f.alignment.atBasinOptimum.modelCos)}   preds diff ${fixed(f.alignment.atBasinOptimum.predsDiff)}   reference loss ${fixed(f.reference.atBasinOptimum?.loss)}`
      : undefined,
    f.extracted.eta !== null ? `  learned η         ${fixed(f.extracted.eta, 3)} (grid optimum ${fixed(f.reference.gridOptimum.scale, 3)})` : undefined,
    f.extracted.cSigma !== null
      ? `  learned c_σ       ${fixed(f.extracted.cSigma, 3)}   b ${fixed(f.extracted.diagnostics.b, 3)}${f.extracted.cEta !== null ? `   c_η ${fixed(f.extracted.cEta, 2)}` : ""}   solution ${f.extracted.solution}`
      : undefined,
    `  structure         r_A ${fixed(f.extracted.diagnostics.rA, 3)}   r_B ${fixed(f.extracted.diagnostics.rB, 3)}`,
    `  grid optima       GD-lin* ${fixed(refs["gd-linear"].evaluation.loss)}   KGD-fixed* ${fixed(refs["kgd-fixed"].evaluation.loss)}   CA-KGD* ${fixed(refs["ca-kgd"].evaluation.loss)}`
  ]
  return lines.filter((l) => l !== undefined).join("\n")
}
