import { assert, describe, it } from "@effect/vitest"
import {
  awaitChunks,
  claimChunk,
  createControl,
  finishChunk,
  publishStep,
  reportFailure,
  stopWorkers,
  workUntilStopped
} from "../../../src/services/classification/GradientProtocol.js"

describe("gradient protocol", () => {
  it("each step's chunks are claimed once each, in order, and a new step reopens them all", () => {
    const control = new Int32Array(createControl())
    assert.strictEqual(claimChunk(control, 3), -1, "nothing to claim before the first step")
    let generation = publishStep(control, 1, 0)
    assert.deepStrictEqual([claimChunk(control, 3), claimChunk(control, 3), claimChunk(control, 3), claimChunk(control, 3)], [0, 1, 2, -1])
    for (let c = 0; c < 3; c++) finishChunk(control, 3)
    assert.isTrue(awaitChunks(control, 3))
    generation = publishStep(control, 2, generation)
    assert.strictEqual(claimChunk(control, 3), 0)
    // Generations wrap without ever reopening a spent step's word.
    for (let i = 0; i < 40_000; i++) generation = publishStep(control, 3 + i, generation)
    assert.strictEqual(claimChunk(control, 3), 0)
  })

  it("a worker's failure ends the wait for its chunk; a finished step does not see it", () => {
    const control = new Int32Array(createControl())
    publishStep(control, 1, 0)
    claimChunk(control, 2)
    claimChunk(control, 2)
    finishChunk(control, 2)
    reportFailure(control)
    assert.isFalse(awaitChunks(control, 2), "the failed worker's chunk will never be counted")
    finishChunk(control, 2)
    assert.isTrue(awaitChunks(control, 2))
  })

  it("a worker computes what it claims with the published step, and returns once stopped", () => {
    const control = new Int32Array(createControl())
    publishStep(control, 7, 0)
    const computed: Array<[number, number]> = []
    // Stopped by its own last chunk, so that the loop runs on this thread and returns.
    workUntilStopped(control, 3, (chunk, step) => {
      computed.push([chunk, step])
      if (computed.length === 3) stopWorkers(control)
    })
    assert.deepStrictEqual(computed, [[0, 7], [1, 7], [2, 7]])
    assert.isTrue(awaitChunks(control, 3))
  })
})
