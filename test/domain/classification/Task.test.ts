import { assert, describe, it } from "@effect/vitest"
import { NO_SHIFT } from "../../../src/domain/classification/Config.js"
import { sampleShiftedTasks, sampleTasks, sliceBatch } from "../../../src/domain/classification/Task.js"
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
    // Provenance: printed by this very call (sampleTasks(defaults.task, 0, "train", 1, 4)) at the commit of issue 15
    // that moved training batches to the 1024-layer ziggurat (Task.normalsOf); the WebAssembly sampler draws the same
    // (SimdKernel.test.ts). The stream before it (07aa5cc to issue 15: the 128-layer ziggurat) began x =
    // [-0.21989801068011702, 0.8242517873946432, -0.20296576062890268], query labels [0, 3, 3, 2]. Both draw each
    // normal from one 32-bit draw unless it falls outside the rectangles, so the two streams agree on their uniform
    // draws up to the first such normal (the first task's labels below are the same), and differ in every normal's
    // value. A change here changes every training batch, so every stored run and every number in the README.
    const batch = sampleTasks(task(), 0, "train", 1, 4)
    assert.deepStrictEqual(Array.from(batch.x.subarray(0, 3)), [-0.1788858935181076, 0.7382766569127611, -0.40159917425096725])
    assert.deepStrictEqual(Array.from(batch.labels.subarray(0, 10)), [2, 2, 2, 1, 1, 1, 0, 1, 1, 4])
    assert.deepStrictEqual(Array.from(batch.queryLabel), [1, 2, 0, 1])
    assert.strictEqual(batch.query[4], -0.5083088374177777)
  })

  it("the evaluation and grid-search sets are pinned, unchanged since 07aa5cc (the 128-layer ziggurat)", () => {
    // Provenance: printed by these calls before issue 15 changed the training batches' normals, and again after it.
    const evaluation = sampleTasks(task(), 0, "evaluation", 0, 4)
    assert.deepStrictEqual(Array.from(evaluation.x.subarray(0, 3)), [-0.5144713227257197, -0.43559497012432646, 0.6966790027365564])
    assert.deepStrictEqual(Array.from(evaluation.queryLabel), [0, 0, 0, 4])
    assert.strictEqual(evaluation.query[4], -0.14201006115664225)
    const grid = sampleTasks(task(), 0, "grid", 0, 4)
    assert.deepStrictEqual(Array.from(grid.x.subarray(0, 3)), [0.1690409647835569, -0.9369496633345265, -0.038205820067669864])
    assert.deepStrictEqual(Array.from(grid.queryLabel), [1, 0, 3, 3])
    assert.strictEqual(grid.query[4], 0.16204818737368584)
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

  it("cluster points scatter around their class vector as the noise level says: same-class similarity m², cross-class 0", () => {
    // x = normalize(μ_c + ε g/√d), g ~ N(0, I). Given μ_c, E[x] = m μ_c with m = E[μ_c·x] (symmetry about μ_c), so two
    // independent points of one class have E[x·x'] = m², and points of independent uniform class vectors E[x·x'] = 0.
    // m is computed here from ε and d alone, by Monte Carlo with a generator of the test's own (mulberry32, Box–Muller).
    const d = 5
    const noise = 0.5
    let state = 12345
    const uniform = () => {
      state = (state + 0x6d2b79f5) | 0
      let t = Math.imul(state ^ (state >>> 15), 1 | state)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())
    const draws = 200_000
    let m = 0
    for (let i = 0; i < draws; i++) {
      const along = 1 + (noise / Math.sqrt(d)) * gaussian()
      let across = 0
      for (let k = 1; k < d; k++) across += (noise * noise * gaussian() ** 2) / d
      m += along / Math.sqrt(along * along + across) / draws
    }
    // Per-task means of the query's dot with same-class and other-class points; tasks are independent, so the spread of
    // these means over 300 tasks gives the standard error of their average.
    const tasksCount = 300
    const batch = sampleTasks(task({ d, C: 5, n: 100, noise }), 2, "evaluation", 0, tasksCount)
    const same: Array<number> = []
    const other: Array<number> = []
    for (let t = 0; t < batch.size; t++) {
      const sums = [0, 0]
      const counts = [0, 0]
      for (let i = 0; i < batch.n; i++) {
        let dot = 0
        for (let k = 0; k < d; k++) dot += batch.x[(t * 100 + i) * d + k]! * batch.query[t * d + k]!
        const which = batch.labels[t * 100 + i] === batch.queryLabel[t] ? 0 : 1
        sums[which]! += dot
        counts[which]! += 1
      }
      if (counts[0]! > 0) same.push(sums[0]! / counts[0]!)
      other.push(sums[1]! / counts[1]!)
    }
    const meanAndError = (values: ReadonlyArray<number>) => {
      const mean = values.reduce((s, v) => s + v, 0) / values.length
      const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)
      return { mean, se: Math.sqrt(variance / values.length) }
    }
    const sameStats = meanAndError(same)
    const otherStats = meanAndError(other)
    // Four standard errors either side (the Monte Carlo error of m², about 1e-4, is far smaller).
    assert.approximately(sameStats.mean, m * m, 4 * sameStats.se, `same class: m² = ${m * m}`)
    assert.approximately(otherStats.mean, 0, 4 * otherStats.se, "other classes")
    // The band is narrow enough to tell noise levels apart: ε = 0 would give 1, ε = 1 about 0.5.
    assert.isBelow(4 * sameStats.se, 0.05)
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

describe("shifted evaluation tasks (spec E9)", () => {
  const base = task({ d: 5, C: 5, n: 60 })
  const norm = (v: Float64Array, offset: number, d: number) => Math.hypot(...Array.from(v.subarray(offset, offset + d)))
  const labelsOf = (batch: ReturnType<typeof sampleTasks>, t: number) => Array.from(batch.labels.subarray(t * batch.n, (t + 1) * batch.n))

  it("the neutral shift draws exactly the training distribution's tasks", () => {
    assert.deepStrictEqual(sampleShiftedTasks(base, NO_SHIFT, 9, "evaluation", 40), sampleTasks(base, 9, "evaluation", 0, 40))
  })

  it("x → αx scales every context input and the query to norm α and keeps their directions", () => {
    const plain = sampleTasks(base, 9, "evaluation", 0, 30)
    for (const alpha of [0.5, 2]) {
      const scaled = sampleShiftedTasks(base, { ...NO_SHIFT, inputScale: alpha }, 9, "evaluation", 30)
      assert.deepStrictEqual(scaled.labels, plain.labels)
      for (let i = 0; i < scaled.size * scaled.n; i++) assert.closeTo(norm(scaled.x, i * 5, 5), alpha, 1e-12)
      for (let t = 0; t < scaled.size; t++) assert.closeTo(norm(scaled.query, t * 5, 5), alpha, 1e-12)
      scaled.x.forEach((v, k) => assert.closeTo(v, alpha * plain.x[k]!, 1e-15))
    }
  })

  it("another class noise keeps labels and class vectors: at ε = 0 every point is its class vector", () => {
    const plain = sampleTasks(base, 9, "evaluation", 0, 30)
    const exact = sampleShiftedTasks(base, { ...NO_SHIFT, noise: 0 }, 9, "evaluation", 30)
    assert.deepStrictEqual(exact.labels, plain.labels)
    assert.deepStrictEqual(exact.queryLabel, plain.queryLabel)
    for (let t = 0; t < exact.size; t++) {
      const labels = labelsOf(exact, t)
      const i = labels.indexOf(exact.queryLabel[t]!)
      if (i >= 0) for (let k = 0; k < 5; k++) assert.closeTo(exact.query[t * 5 + k]!, exact.x[(t * 60 + i) * 5 + k]!, 1e-12)
      for (let j = 0; j < 60; j++) {
        const first = labels.indexOf(labels[j]!)
        for (let k = 0; k < 5; k++) assert.strictEqual(exact.x[(t * 60 + j) * 5 + k], exact.x[(t * 60 + first) * 5 + k])
      }
    }
  })

  it("the query's class absent: no context point of it, in any task", () => {
    const absent = sampleShiftedTasks(base, { ...NO_SHIFT, queryClass: "absent" }, 9, "evaluation", 300)
    const seen = new Set<number>()
    for (let t = 0; t < absent.size; t++) {
      assert.notInclude(labelsOf(absent, t), absent.queryLabel[t]!)
      seen.add(absent.queryLabel[t]!)
    }
    assert.strictEqual(seen.size, 5, "the query still takes every class")
  })

  it("k classes present: exactly k distinct context labels, the query's among them (or not, when absent)", () => {
    for (const queryClass of ["any", "absent"] as const) {
      const few = sampleShiftedTasks(base, { ...NO_SHIFT, contextClasses: 2, queryClass }, 9, "evaluation", 200)
      for (let t = 0; t < few.size; t++) {
        const present = new Set(labelsOf(few, t))
        assert.strictEqual(present.size, 2)
        assert.strictEqual(present.has(few.queryLabel[t]!), queryClass === "any")
      }
    }
  })

  it("an imbalance ρ makes the most frequent class ρ times as likely as the rarest, in random order", () => {
    const C = 5
    const rho = 10
    const long = task({ d: 3, C, n: 2000 })
    const batch = sampleShiftedTasks(long, { ...NO_SHIFT, imbalance: rho }, 9, "evaluation", 60)
    // Expected proportions by rank: ρ^(−r/4) / Σ_r ρ^(−r/4).
    const weights = Array.from({ length: C }, (_, r) => rho ** (-r / (C - 1)))
    const expected = weights.map((w) => w / weights.reduce((s, v) => s + v, 0))
    const sortedMeans = new Array(C).fill(0)
    const topClass = new Set<number>()
    for (let t = 0; t < batch.size; t++) {
      const counts = new Array(C).fill(0)
      for (const l of labelsOf(batch, t)) counts[l]++
      topClass.add(counts.indexOf(Math.max(...counts)))
      counts.sort((a, b) => b - a).forEach((c, r) => (sortedMeans[r] += c / 2000 / batch.size))
    }
    // Over 60 tasks of 2000 labels a proportion p has an SE of about √(p(1−p)/120000) ≤ 0.0015: 0.01 is 6 SEs.
    sortedMeans.forEach((m, r) => assert.closeTo(m, expected[r]!, 0.01, `rank ${r}`))
    assert.isAbove(topClass.size, 3, "which class is frequent changes from task to task")
  })
})
