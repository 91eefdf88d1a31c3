/**
 * `pnpm bench --regression`'s table, run the way a person runs it (`pnpm bench`), in its smoke form (`--smoke`: one
 * step per row at batch 40, nothing written): every setting × K = 1…5 gets a row with the kernel a run would use and
 * a number in every column that applies. Timings are not checked (they depend on the machine); the table's shape is.
 */
import { existsSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { root, runCommand } from "../support/cli.js"

const SETTINGS = ["linear-regression d 10 n 10, linear SA", "gp exp d 3 n 20, softmax SA"]
const COLUMNS = ["setting", "layers", "batch", "kernel", "sample ms", "fused ms", "js ms", "tfjs ms", "fused speed-up", "step ms", "tfjs / step"]

describe("pnpm bench --regression", () => {
  it("prints one row per setting and depth (K = 1…5) with the engine's kernel and every time, and writes nothing in smoke form", async () => {
    const latest = join(root, ".bench", "latest.json")
    const before = existsSync(latest) ? statSync(latest).mtimeMs : null
    const result = await runCommand("pnpm", ["--silent", "bench", "--regression", "--smoke"], root)
    assert.strictEqual(result.status, 0, result.stderr)
    const lines = result.stdout.split("\n")
    const header = lines.findIndex((line) => line.startsWith("setting "))
    assert.isAtLeast(header, 0, result.stdout)
    // Columns are separated by two or more spaces (the setting's label has single spaces).
    assert.deepStrictEqual(lines[header]!.trim().split(/ {2,}/), COLUMNS)
    const expected = SETTINGS.flatMap((setting) => [1, 2, 3, 4, 5].map((layers) => ({ setting, layers })))
    const rows = lines.slice(header + 1, header + 1 + expected.length)
    rows.forEach((line, i) => {
      const { setting, layers } = expected[i]!
      const what = `row ${i}: ${line}`
      assert.isTrue(line.startsWith(setting), what)
      const cells = [setting, ...line.slice(setting.length).trim().split(/\s+/)]
      assert.strictEqual(cells.length, COLUMNS.length, what)
      assert.strictEqual(Number(cells[1]), layers, what)
      assert.strictEqual(Number(cells[2]), 40, what)
      // The kernel a run uses: the one-layer kernel, or for K ≥ 2 the K-layer SIMD kernel.
      assert.strictEqual(cells[3], layers === 1 ? "one-layer" : "wasm-simd", what)
      const time = (cell: string | undefined) => {
        assert.match(cell ?? "", /^\d+\.\d{2}$/, what)
        assert.isAbove(Number(cell), 0, what)
      }
      const ratio = (cell: string | undefined) => assert.match(cell ?? "", /^\d+\.\d×$/, what)
      for (const column of [4, 5, 7]) time(cells[column])
      ratio(cells[8])
      if (layers === 1) {
        for (const column of [6, 9, 10]) assert.strictEqual(cells[column], "—", what)
      } else {
        for (const column of [6, 9]) time(cells[column])
        ratio(cells[10])
      }
    })
    assert.match(lines[header + 1 + expected.length] ?? "", /^bench process peak RSS/, "no further rows")
    assert.include(result.stdout, "nothing written")
    assert.strictEqual(existsSync(latest) ? statSync(latest).mtimeMs : null, before, ".bench/latest.json untouched")
  })
})
