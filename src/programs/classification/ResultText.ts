/**
 * The short plain-text result of a classification run that the CLI prints on stdout.
 */
import { fixed, formatEstimate } from "../../domain/Results.js"
import type { RunResult } from "./Run.js"

export const formatRunResult = (result: RunResult): string => {
  const { summary } = result
  const f = summary.final
  const refs = summary.references
  const u = summary.uncertainty
  /** A value with its standard error over evaluation contexts, when the summary has one. */
  const withSe = (value: number, se: number | undefined, digits = 4) => (se === undefined ? fixed(value, digits) : formatEstimate({ mean: value, se }, digits))
  const lines = [
    `run ${result.runId}${result.reused ? " (finished earlier; stored results)" : ""}`,
    `  folder            ${result.dir}`,
    `  model             ${summary.attention} attention, ${summary.steps} steps, ${summary.engine.engine} engine${summary.engine.backend ? ` (${summary.engine.backend})` : ""}`,
    `  eval loss         ${withSe(f.model.loss, u?.model.loss)}   accuracy ${withSe(f.model.accuracy, u?.model.accuracy, 3)}   p(correct) ${withSe(f.model.pCorrect, u?.model.pCorrect, 3)}   entropy ${withSe(f.model.entropy, u?.model.entropy, 3)}${u ? `   (± SE over ${u.contexts} contexts)` : ""}`,
    `  reference         ${f.reference.kind}: at extracted params ${withSe(f.reference.atExtracted.loss, u?.reference.atExtracted.loss)}, at grid optimum ${withSe(f.reference.atGridOptimum.loss, u?.reference.atGridOptimum.loss)}`,
    u
      ? `  model − reference  loss at extracted params ${formatEstimate(u.modelMinusReference.atExtracted.loss)}, at grid optimum ${formatEstimate(u.modelMinusReference.atGridOptimum.loss)} (paired on the same contexts)`
      : undefined,
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
    `  grid optima       GD-lin* ${withSe(refs["gd-linear"].evaluation.loss, refs["gd-linear"].evaluationSe?.loss)}   KGD-fixed* ${withSe(refs["kgd-fixed"].evaluation.loss, refs["kgd-fixed"].evaluationSe?.loss)}   CA-KGD* ${withSe(refs["ca-kgd"].evaluation.loss, refs["ca-kgd"].evaluationSe?.loss)}${refs["ca-gd-linear"] ? `   CA-GD-lin* ${withSe(refs["ca-gd-linear"].evaluation.loss, refs["ca-gd-linear"].evaluationSe?.loss)}` : ""}`,
    summary.evaluationSets
      ? `  evaluation sets   ${summary.evaluationSets.sets.length} (seeds ${summary.evaluationSets.sets.map((s) => s.seed).join(", ")}): model loss ${fixed(summary.evaluationSets.lossSpread.model.mean)} ± ${fixed(summary.evaluationSets.lossSpread.model.sd)} (SD across sets); grid-optimal ${f.reference.kind} ${fixed(summary.evaluationSets.lossSpread.references[f.reference.kind].mean)} ± ${fixed(summary.evaluationSets.lossSpread.references[f.reference.kind].sd)}`
      : undefined
  ]
  return lines.filter((l) => l !== undefined).join("\n")
}
