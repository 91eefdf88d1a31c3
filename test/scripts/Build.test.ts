/**
 * `pnpm start` runs the bundle of the current sources: an edit in src/ is built before it runs, never stale code, and a
 * source that does not compile is reported with its location and a non-zero exit. Checked on a copy of the repository
 * (its own src/ and dist/, the same node_modules).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { root, runNode } from "../support/cli.js"

const copyOfRepository = () => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-build-"))
  for (const entry of ["src", "scripts", "package.json", "pnpm-lock.yaml"]) cpSync(join(root, entry), join(dir, entry), { recursive: true })
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir")
  return dir
}

/** The CLI's output without its terminal colours. */
const start = async (dir: string, args: ReadonlyArray<string>) => {
  const result = await runNode([join(dir, "scripts", "start.mjs"), ...args], dir)
  return { status: result.status, stdout: result.stdout.replace(/\u001b\[[0-9;]*m/g, ""), stderr: result.stderr }
}

describe("the launcher", () => {
  it("rebuilds after an edit in src/ and runs the edited code; a build error names the file and exits 1", async () => {
    const dir = copyOfRepository()
    try {
      const first = await start(dir, ["--help"])
      assert.strictEqual(first.status, 0, first.stderr)
      assert.include(first.stdout, "Figures, tables and an HTML report")
      const builds = readdirSync(join(dir, "dist"))
      assert.strictEqual(builds.length, 1)

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
      assert.include(broken.stderr, "building the CLI from src/ failed")

      // Back to the first sources: the first build runs again, without building.
      writeFileSync(cli, source)
      const back = await start(dir, ["--help"])
      assert.include(back.stdout, "Figures, tables and an HTML report")
      assert.deepStrictEqual(readdirSync(join(dir, "dist")).sort(), [...builds, ...readdirSync(join(dir, "dist")).filter((b) => !builds.includes(b))].sort())
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
