/**
 * Limits refused up front: before a sweep writes anything, each planned run's memory is estimated from its config
 * (each kind's `memory`, domain/Memory) and a sweep that cannot fit on this machine, at the concurrency asked for, is
 * refused with the fields that make it large, the estimate and the memory available (ResourceLimit, exit code 2).
 */
import { availableParallelism, totalmem } from "node:os"
import { Effect } from "effect"
import { ResourceLimit } from "../domain/Errors.js"
import { describeTerm, totalBytes, USABLE_SHARE } from "../domain/Memory.js"
import type { SweepPlan } from "../domain/Sweep.js"
import { experimentNamed } from "./Registry.js"

/** The memory a sweep may use here: USABLE_SHARE of the machine's (or of the container's limit, when lower). */
export const usableMemory = (): number => {
  const constrained = typeof process.constrainedMemory === "function" ? process.constrainedMemory() : 0
  const total = constrained !== undefined && constrained > 0 ? Math.min(constrained, totalmem()) : totalmem()
  return total * USABLE_SHARE
}

/** Fails with ResourceLimit when the largest run of `plan`, `concurrency` at a time, does not fit in `available` bytes. */
export const checkMemory = (plan: SweepPlan, concurrency: number | undefined, available: number = usableMemory()) =>
  Effect.suspend(() => {
    const experiment = experimentNamed(plan.kind)
    let largest: { readonly id: string; readonly terms: ReturnType<typeof experiment.memory>; readonly bytes: number } | undefined
    for (const run of plan.runs) {
      const terms = experiment.memory(run.config)
      const bytes = totalBytes(terms)
      if (largest === undefined || bytes > largest.bytes) largest = { id: run.id, terms, bytes }
    }
    if (largest === undefined) return Effect.void
    const parallel = Math.max(1, Math.min(concurrency ?? availableParallelism(), plan.runs.length))
    if (largest.bytes * parallel <= available) return Effect.void
    const fits = Math.floor(available / largest.bytes)
    return Effect.fail(
      new ResourceLimit({
        runId: largest.id,
        parallel,
        estimate: largest.bytes,
        available,
        terms: [...largest.terms].sort((a, b) => b.bytes - a.bytes).slice(0, 3).map(describeTerm),
        advice:
          fits >= 1
            ? `Run fewer at a time: -j ${fits}.`
            : "Lower the fields above (or run it on a machine with more memory); nothing was written."
      })
    )
  })
