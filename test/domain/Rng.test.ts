import { assert, describe, it } from "@effect/vitest"
import { keyedRng, philox4x32 } from "../../src/domain/Rng.js"

describe("Rng", () => {
  it("Philox4x32-10 reproduces the Random123 known-answer vectors", () => {
    const hex = (words: ReadonlyArray<number>) => words.map((w) => w.toString(16).padStart(8, "0")).join(" ")
    assert.strictEqual(hex(philox4x32([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8")
    assert.strictEqual(
      hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])),
      "408f276d 41c83b0e a20bc7c6 6d5451fd"
    )
    assert.strictEqual(
      hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
      "d16cfe09 94fdcceb 5001e420 24126ea1"
    )
  })

  it("normal draws have mean 0 and variance 1 (within 4 standard errors of 100,000 draws)", () => {
    const rng = keyedRng(123, "train", 0)
    const N = 100_000
    let sum = 0
    let sumSq = 0
    for (let i = 0; i < N; i++) {
      const z = rng.normal()
      sum += z
      sumSq += z * z
    }
    const mean = sum / N
    const variance = sumSq / N - mean * mean
    assert.isBelow(Math.abs(mean), 4 / Math.sqrt(N))
    assert.isBelow(Math.abs(variance - 1), 4 * Math.sqrt(2 / N))
  })

  it("bulk draws equal single draws: fillNormals through the rectangles, wedges and tail; fillInts; rekey", () => {
    const N = 300_000
    const bulk = keyedRng(9, "train", 2, 3)
    const single = keyedRng(9, "train", 2, 3)
    const normals = new Float64Array(N + 2)
    bulk.fillNormals(normals, 1, N)
    let tail = 0
    for (let i = 1; i <= N; i++) {
      assert.strictEqual(normals[i], single.normal(), `normal ${i}`)
      if (Math.abs(normals[i]!) > 3.442619855899) tail += 1
    }
    assert.isAbove(tail, 0, "the draws reached the ziggurat's tail")
    assert.deepStrictEqual([normals[0], normals[N + 1]], [0, 0], "nothing written outside the range")
    const ints = new Int32Array(1000)
    bulk.fillInts(ints, 0, 1000, 7)
    assert.deepStrictEqual(Array.from(ints), Array.from({ length: 1000 }, () => single.int(7)))
    assert.strictEqual(bulk.uniform(), single.uniform(), "both left in the same state")
    const rekeyed = keyedRng(1, "grid", 0).rekey(2 ** 40 + 5, "evaluation", 3, 4)
    const fresh = keyedRng(2 ** 40 + 5, "evaluation", 3, 4)
    for (let i = 0; i < 10; i++) assert.strictEqual(rekeyed.nextUint32(), fresh.nextUint32())
  })

  it("streams differ by seed, stream name and counter", () => {
    const first = (seed: number, stream: "train" | "evaluation", a: number, b: number) => keyedRng(seed, stream, a, b).nextUint32()
    const values = new Set([first(1, "train", 0, 0), first(2, "train", 0, 0), first(1, "evaluation", 0, 0), first(1, "train", 1, 0), first(1, "train", 0, 1)])
    assert.strictEqual(values.size, 5)
    assert.strictEqual(first(2 ** 40 + 5, "train", 3, 4), first(2 ** 40 + 5, "train", 3, 4))
    assert.notStrictEqual(first(2 ** 40 + 5, "train", 3, 4), first(5, "train", 3, 4))
  })
})
