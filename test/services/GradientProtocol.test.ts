import { assert, describe, it } from "@effect/vitest"
import {
  ALL_CLAIMED,
  awaitChunks,
  CLAIM_LOST,
  claimChunk,
  claimFrom,
  claimWord,
  createControl,
  finishChunk,
  publishStep,
  reportFailure,
  stopWorkers,
  workUntilStopped
} from "../../src/services/GradientProtocol.js"

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
  })

  it("generations wrap below 2^15, so the claim word stays a non-negative int32, and every step opens at chunk 0", () => {
    const control = new Int32Array(createControl())
    let generation = publishStep(control, 1, 0)
    assert.strictEqual(generation, 1)
    // 40,000 steps pass the wrap at 2^15 once; every word published must be non-negative with nothing claimed yet.
    for (let i = 0; i < 40_000; i++) {
      generation = publishStep(control, 2 + i, generation)
      const word = claimWord(control)
      if (word < 0 || generation < 0 || generation >= 2 ** 15) assert.fail(`step ${2 + i}: generation ${generation}, claim word ${word}`)
    }
    assert.strictEqual(generation, (1 + 40_000) % 2 ** 15, "the generation counts steps modulo 2^15")
    assert.strictEqual(claimChunk(control, 3), 0)
    // Right at the wrap: the last generation below 2^15 is followed by generation 0.
    const last = 2 ** 15 - 1
    assert.strictEqual(publishStep(control, 9, last - 1), last)
    assert.strictEqual(publishStep(control, 10, last), 0)
    assert.isAtLeast(claimWord(control), 0)
  })

  it("a claim made from a word of an earlier step fails, across the wrap too; a word of the current step succeeds", () => {
    const control = new Int32Array(createControl())
    for (const previous of [0, 2 ** 15 - 2, 2 ** 15 - 1]) {
      const generation = publishStep(control, 1, previous)
      const stale = claimWord(control)
      // The stale thread read chunk 0 of this step; the training thread then published the next step.
      publishStep(control, 2, generation)
      assert.strictEqual(claimFrom(control, stale, 3), CLAIM_LOST, `generation ${generation}: an old step's word must not claim`)
      const current = claimWord(control)
      assert.strictEqual(claimFrom(control, current, 3), 0)
      // The word moved on: the same read cannot claim twice.
      assert.strictEqual(claimFrom(control, current, 3), CLAIM_LOST)
      assert.strictEqual(claimFrom(control, claimWord(control), 3), 1)
      assert.strictEqual(claimFrom(control, claimWord(control), 3), 2)
      assert.strictEqual(claimFrom(control, claimWord(control), 3), ALL_CLAIMED)
    }
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
