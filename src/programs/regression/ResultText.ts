/**
 * The short plain-text result of a regression run that the CLI prints on stdout.
 */
import { fixed } from "../../domain/Results.js"
import type { RunOutcome } from "../RunFolder.js"
import type { RegressionSummary } from "./Run.js"

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
    `  task              ${task.family}${task.family === "gp" ? ` (${task.kernel} kernel)` : task.family === "random-features" ? ` (${task.features} tanh features)` : ""}, d ${task.d}, n ${task.n}, inputs on the ${task.inputs}`,
    `  model             ${model.embedding ? `${model.embedding.activation} MLP ${[task.d, ...model.embedding.hidden, model.embedding.features].join("→")}, then ` : ""}${model.layers}-layer${model.recurrent ? " recurrent" : ""} ${model.attention} attention, ${summary.steps} steps, ${summary.engine.engine} engine${summary.engine.backend ? ` (${summary.engine.backend})` : ""}`,
    `  eval loss         ${fixed(f.model.loss)}   (½ mean squared error)`,
    `  references        ${referenceLine}`,
    `  alignment (GD*)   model cos ${fixed(f.alignment.gridOptimum.modelCos)}   preds diff ${fixed(f.alignment.gridOptimum.predsDiff)}   model diff ${fixed(f.alignment.gridOptimum.modelDiff)}`,
    `  alignment (extr.) model cos ${fixed(f.alignment.extracted.modelCos)}   preds diff ${fixed(f.alignment.extracted.predsDiff)}   loss at extracted ${fixed(f.extracted.loss)}`,
    `  alignment (Bayes) model cos ${fixed(f.alignment.bayes.modelCos)}   preds diff ${fixed(f.alignment.bayes.predsDiff)}`,
    ...(f.learnedFeatures === undefined
      ? []
      : [
          `  GD on learned z   loss ${fixed(f.learnedFeatures.loss)}   model cos ${fixed(f.learnedFeatures.alignment.modelCos)}   preds diff ${fixed(f.learnedFeatures.alignment.predsDiff)}   η ${fixed(f.learnedFeatures.eta, 3)}`
        ]),
    `  learned steps     ${layers.map((l) => `s·η ${fixed(l.effectiveEta, 3)} (s ${fixed(l.scale, 3)}, γ ${fixed(l.gamma, 3)}, off-form ${fixed(l.offConstruction, 3)})`).join("; ")}`,
    `  GD* parameters    ${Object.entries(refs["gd"]?.parameters ?? {}).map(([k, v]) => `${k} ${typeof v === "number" ? (Number.isInteger(v) ? String(v) : fixed(v, 3)) : v.map((x) => fixed(x, 3)).join(", ")}`).join("   ")}`,
    `  interpolation     ${summary.interpolation.map((p) => `α=${p.alpha.toFixed(1)}: ${fixed(p.loss)}`).join("  ")}`
  ]
  return lines.join("\n")
}
