import { assert, describe, it } from "@effect/vitest"
import type { ResultRow } from "../../../src/domain/Results.js"
import { classificationAggregate } from "../../../src/programs/classification/Tables.js"

/** Four seeds of one softmax configuration: three learned elimination (c_σ < 0), one selection (c_σ > 0). */
const rows: ReadonlyArray<ResultRow> = [
  { seed: 0, attention: "softmax", C: 5, status: "done", solution: "elimination", final_loss: 0.23, c_sigma: -7.2, c_eta: -310, b: -3.1, model_cos_extracted: 0.9999, accuracy: 0.91 },
  { seed: 1, attention: "softmax", C: 5, status: "done", solution: "elimination", final_loss: 0.231, c_sigma: -7.4, c_eta: -300, b: -3.0, model_cos_extracted: 0.9991, accuracy: 0.9 },
  { seed: 2, attention: "softmax", C: 5, status: "done", solution: "elimination", final_loss: 0.229, c_sigma: -7.6, c_eta: -290, b: -2.9, model_cos_extracted: 0.9998, accuracy: 0.92 },
  { seed: 3, attention: "softmax", C: 5, status: "done", solution: "selection", final_loss: 0.118, c_sigma: 27, c_eta: 480, b: 4.8, model_cos_extracted: 0.9995, accuracy: 0.96 }
]

describe("classification aggregate", () => {
  const { rows: aggregateRows, markdown } = classificationAggregate("t", rows, ["attention"])
  const row = aggregateRows[0]!

  it("aggregates kernel parameters within each learned basin only, never across basins", () => {
    assert.isUndefined(row["c_sigma_mean"], "no pooled c_σ: −7.4 and +27 average into a c_σ no model has")
    assert.closeTo(row["c_sigma_elimination_mean"] as number, -7.4, 1e-12)
    assert.strictEqual(row["c_sigma_selection_mean"], 27)
    assert.isNaN(row["c_sigma_selection_ci95"] as number, "one seed: no interval")
    assert.closeTo(row["c_eta_elimination_mean"] as number, -300, 1e-9)
    assert.closeTo(row["b_elimination_se"] as number, 0.1 / Math.sqrt(3), 1e-12)
    assert.strictEqual(row["elimination_seeds"], 3)
    assert.closeTo(row["elimination_loss_mean"] as number, 0.23, 1e-12)
    assert.include(markdown, "| elimination: seeds, loss, c_σ |")
    assert.include(markdown, "3, 0.2300 ± 0.0025, c_σ -7.40 ± 0.50")
    assert.include(markdown, "1, 0.1180, c_σ 27.00")
  })

  it("keeps the intervals of bounded metrics inside their range", () => {
    const hi = row["model_cos_extracted_hi"] as number
    const mean = row["model_cos_extracted_mean"] as number
    const half = row["model_cos_extracted_ci95"] as number
    assert.isAbove(mean + half, 1, "the symmetric interval passes 1")
    assert.strictEqual(hi, 1)
    assert.isAtMost(row["accuracy_hi"] as number, 1)
    assert.isAtLeast(row["final_loss_lo"] as number, 0)
    assert.include(markdown, `${mean.toFixed(4)} [${(mean - half).toFixed(4)}, 1.0000]`)
  })
})
