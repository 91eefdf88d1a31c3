/**
 * The short plain-text result of a run that the CLI prints on stdout.
 */
import type { RegressionSummary } from "./RegressionRun.js"
import type { RunOutcome } from "./RunFolder.js"
import type { RunResult } from "./TrainRun.js"

const fixed = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits))

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

/** The same for a regression run. */
export const formatRegressionResult = (result: RunOutcome<RegressionSummary>): string => {
  const { summary } = result
  const f = summary.final
  const refs = summary.references
  const { model, task } = summary
  const layers = f.extracted.layers
  const referenceLine = Object.entries(refs)
    .map(([name, r]) => `${name} ${fixed(r.loss)}`)
    .join("   ")
  const lines = [
    `run ${result.runId}${result.reused ? " (finished earlier; stored results)" : ""}`,
    `  folder            ${result.dir}`,
    `  task              ${task.family}${task.family === "gp" ? ` (${task.kernel} kernel)` : ""}, d ${task.d}, n ${task.n}, inputs on the ${task.inputs}`,
    `  model             ${model.layers}-layer${model.recurrent ? " recurrent" : ""} ${model.attention} attention, ${summary.steps} steps, ${summary.engine.engine} engine${summary.engine.backend ? ` (${summary.engine.backend})` : ""}`,
    `  eval loss         ${fixed(f.model.loss)}   (½ mean squared error)`,
    `  references        ${referenceLine}`,
    `  alignment (GD*)   model cos ${fixed(f.alignment.gridOptimum.modelCos)}   preds diff ${fixed(f.alignment.gridOptimum.predsDiff)}   model diff ${fixed(f.alignment.gridOptimum.modelDiff)}`,
    `  alignment (extr.) model cos ${fixed(f.alignment.extracted.modelCos)}   preds diff ${fixed(f.alignment.extracted.predsDiff)}   loss at extracted ${fixed(f.extracted.loss)}`,
    `  alignment (Bayes) model cos ${fixed(f.alignment.bayes.modelCos)}   preds diff ${fixed(f.alignment.bayes.predsDiff)}`,
    `  learned steps     ${layers.map((l) => `s·η ${fixed(l.effectiveEta, 3)} (s ${fixed(l.scale, 3)}, γ ${fixed(l.gamma, 3)}, off-form ${fixed(l.offConstruction, 3)})`).join("; ")}`,
    `  GD* parameters    ${Object.entries(refs["gd"]?.parameters ?? {}).map(([k, v]) => `${k} ${typeof v === "number" ? (Number.isInteger(v) ? String(v) : fixed(v, 3)) : v.map((x) => fixed(x, 3)).join(", ")}`).join("   ")}`,
    `  interpolation     ${summary.interpolation.map((p) => `α=${p.alpha.toFixed(1)}: ${fixed(p.loss)}`).join("  ")}`
  ]
  return lines.join("\n")
}
