/**
 * `pnpm start` runs the bundle of the current sources: an edit in src/ or assembly/ is built before it runs, never
 * stale code, and a source that does not compile is reported with its location and a non-zero exit. Checked on a copy
 * of the repository (its own src/, assembly/, build/ and dist/; the same node_modules).
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { root, runNode } from "../support/cli.js"

const copyOfRepository = () => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-build-"))
  for (const entry of ["src", "assembly", "scripts", "package.json", "pnpm-lock.yaml"]) cpSync(join(root, entry), join(dir, entry), { recursive: true })
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir")
  return dir
}

/** The CLI's output without its terminal colours. */
const start = async (dir: string, args: ReadonlyArray<string>) => {
  const result = await runNode([join(dir, "scripts", "start.mjs"), ...args], dir)
  return { status: result.status, stdout: result.stdout.replace(/\u001b\[[0-9;]*m/g, ""), stderr: result.stderr }
}

describe("the launcher", () => {
  it("builds the SIMD kernel into the bundle, rebuilds after an edit in src/ or assembly/ and runs the edited code; a build error names the file and exits 1", async () => {
    const dir = copyOfRepository()
    try {
      const first = await start(dir, ["--help"])
      assert.strictEqual(first.status, 0, first.stderr)
      assert.include(first.stdout, "Figures, tables and an HTML report")
      const builds = readdirSync(join(dir, "dist"))
      assert.strictEqual(builds.length, 1)
      assert.isTrue(existsSync(join(dir, "dist", builds[0]!, "classification.wasm")), "the kernel beside the bundle")
      assert.isTrue(existsSync(join(dir, "build", "classification.wasm")), "the kernel in build/")

      const cli = join(dir, "src", "Cli.ts")
      const source = readFileSync(cli, "utf8")
      writeFileSync(cli, source.replace("Figures, tables and an HTML report", "Edited figures and tables"))
      const edited = await start(dir, ["--help"])
      assert.strictEqual(edited.status, 0, edited.stderr)
      assert.include(edited.stdout, "Edited figures and tables")
      assert.strictEqual(readdirSync(join(dir, "dist")).length, 2, "a second build beside the first")

      writeFileSync(cli, `${source}\nconst broken = (\n`)
      const broken = await start(dir, ["--help"])
      assert.strictEqual(broken.status, 1)
      assert.include(broken.stderr, "src/Cli.ts")
      assert.include(broken.stderr, "building the CLI failed")

      // Back to the first sources: the first build runs again, without building.
      writeFileSync(cli, source)
      const back = await start(dir, ["--help"])
      assert.include(back.stdout, "Figures, tables and an HTML report")
      assert.strictEqual(readdirSync(join(dir, "dist")).length, 2, "no new build")

      // An edit in the kernel's source builds the kernel and a bundle again; one that does not compile is reported.
      const kernelSource = join(dir, "assembly", "classification.ts")
      const kernel = readFileSync(kernelSource, "utf8")
      const wasm = readFileSync(join(dir, "build", "classification.wasm"))
      writeFileSync(kernelSource, kernel.replace("export function benchFlops(", "export function benchFlopsRenamed("))
      const rebuilt = await start(dir, ["--help"])
      assert.strictEqual(rebuilt.status, 0, rebuilt.stderr)
      assert.strictEqual(readdirSync(join(dir, "dist")).length, 3, "a third build")
      assert.notDeepEqual(readFileSync(join(dir, "build", "classification.wasm")), wasm, "the kernel was compiled again")
      writeFileSync(kernelSource, `${kernel}\nexport function broken(: void {}\n`)
      const brokenKernel = await start(dir, ["--help"])
      assert.strictEqual(brokenKernel.status, 1)
      assert.include(brokenKernel.stderr, "assembly/classification.ts")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
