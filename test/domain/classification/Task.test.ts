import { assert, describe, it } from "@effect/vitest"
import { sampleTasks, sliceBatch } from "../../../src/domain/classification/Task.js"
import { task } from "../../helpers.js"

describe("task sampling", () => {
  const config = task({ d: 5, C: 5, n: 30 })

  it("a batch is a function of (seed, step) alone, and of how it is split not at all", () => {
    const whole = sampleTasks(config, 4, "train", 17, 12)
    assert.deepStrictEqual(sampleTasks(config, 4, "train", 17, 12), whole)
    const tail = sampleTasks(config, 4, "train", 17, 5, 7)
    assert.deepStrictEqual(tail, sliceBatch(whole, [7, 8, 9, 10, 11]))
    assert.notDeepEqual(sampleTasks(config, 4, "train", 18, 12).x, whole.x)
    assert.notDeepEqual(sampleTasks(config, 5, "train", 17, 12).x, whole.x)
  })

  it("the training stream is pinned: these draws are behind every stored result and published number", () => {
    const batch = sampleTasks(task(), 0, "train", 1, 4)
    assert.deepStrictEqual(Array.from(batch.x.subarray(0, 3)), [-0.21989801068011702, 0.8242517873946432, -0.20296576062890268])
    assert.deepStrictEqual(Array.from(batch.labels.subarray(0, 10)), [2, 2, 2, 1, 1, 1, 0, 1, 1, 4])
    assert.deepStrictEqual(Array.from(batch.queryLabel), [0, 3, 3, 2])
    assert.strictEqual(batch.query[4], 0.48981992481775094)
  })

  it("every input lies on the unit sphere and every label is a class", () => {
    for (const family of ["cluster", "voronoi"] as const) {
      const batch = sampleTasks(task({ family, d: 3, C: 4, n: 25 }), 1, "evaluation", 0, 50)
      for (let i = 0; i < batch.size * batch.n; i++) {
        const norm = Math.hypot(batch.x[i * 3]!, batch.x[i * 3 + 1]!, batch.x[i * 3 + 2]!)
        assert.isBelow(Math.abs(norm - 1), 1e-12)
        assert.isTrue(batch.labels[i]! >= 0 && batch.labels[i]! < 4)
      }
      for (let t = 0; t < batch.size; t++) {
        assert.isBelow(Math.abs(Math.hypot(batch.query[t * 3]!, batch.query[t * 3 + 1]!, batch.query[t * 3 + 2]!) - 1), 1e-12)
      }
    }
  })

  it("cluster points sit near their class vector: the same-class mean similarity beats the cross-class one", () => {
    const batch = sampleTasks(task({ d: 5, C: 5, n: 100, noise: 0.5 }), 2, "evaluation", 0, 20)
    let same = 0
    let sameCount = 0
    let other = 0
    let otherCount = 0
    for (let t = 0; t < batch.size; t++) {
      for (let i = 0; i < batch.n; i++) {
        let dot = 0
        for (let k = 0; k < 5; k++) dot += batch.x[(t * 100 + i) * 5 + k]! * batch.query[t * 5 + k]!
        if (batch.labels[t * 100 + i] === batch.queryLabel[t]) {
          same += dot
          sameCount++
        } else {
          other += dot
          otherCount++
        }
      }
    }
    assert.isAbove(same / sameCount, 0.7)
    assert.isBelow(other / otherCount, 0.3)
  })

  it("balanced contexts hold n/C of each class; queryClassInContext puts the query's class in the context", () => {
    const balanced = sampleTasks(task({ d: 5, C: 4, n: 20, balanced: true }), 3, "train", 1, 30)
    for (let t = 0; t < balanced.size; t++) {
      const counts = [0, 0, 0, 0]
      for (let i = 0; i < 20; i++) counts[balanced.labels[t * 20 + i]!]!++
      assert.deepStrictEqual(counts, [5, 5, 5, 5])
    }
    for (const family of ["cluster", "voronoi"] as const) {
      const present = sampleTasks(task({ family, d: 5, C: 10, n: 3, queryClassInContext: true }), 3, "train", 1, 200)
      for (let t = 0; t < present.size; t++) {
        const context = Array.from(present.labels.subarray(t * 3, t * 3 + 3))
        assert.include(context, present.queryLabel[t]!)
      }
    }
  })
})
