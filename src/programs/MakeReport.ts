/**
 * `report <folder>`: figures, tables and a self-contained HTML report made from the stored results of a sweep (or of
 * one run's folder), without retraining. Writes `<folder>/report/`: for each figure its Vega-Lite spec (.vl.json),
 * SVG and PNG; `report.html` (figures inline) and `report.md`. What the report shows is the runs' experiment kind's.
 */
import { Effect, Option } from "effect"
import { RunStore } from "../services/RunStore.js"
import { experimentOfInput } from "./Registry.js"
import { finishedRuns } from "./ReportDocuments.js"

export const makeReport = (folder: string) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const entries = yield* finishedRuns(folder)
    const first = Option.getOrUndefined(yield* store.readJson(store.join(entries[0]!.dir, "config.json")))
    const report = yield* experimentOfInput(first).report(folder, entries)
    // Damaged runs are left out of the report, and said so.
    return { ...report, skipped: [...entries.damaged, ...report.skipped] }
  })
