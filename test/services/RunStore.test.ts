import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FileSystem, Path } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RunStore, whyNotWritable } from "../../src/services/RunStore.js"
import { fileSystemWith } from "../helpers.js"

const injected = (method: string, path: string) =>
  new SystemError({ reason: "Unknown", module: "FileSystem", method, pathOrDescriptor: path, description: "injected fault" })

const storeWith = (fileSystem: Layer.Layer<FileSystem.FileSystem>) =>
  RunStore.DefaultWithoutDependencies.pipe(Layer.provide(Layer.merge(fileSystem, NodePath.layer)))

/** A folder holding `results.json` with its old content. */
const folderWithOldFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-store-"))
  const file = join(dir, "results.json")
  writeFileSync(file, "old content\n")
  return { dir, file }
}

describe("atomic writes", () => {
  it.effect("a write replaces the whole file through a temporary file in the same folder, which is gone afterwards", () =>
    Effect.gen(function* () {
      const { dir, file } = folderWithOldFile()
      const renames: Array<[string, string]> = []
      const observed = fileSystemWith((fs) => ({
        rename: (from, to) => Effect.zipRight(Effect.sync(() => renames.push([from, to])), fs.rename(from, to))
      }))
      yield* Effect.flatMap(RunStore, (store) => store.writeJson(file, { value: 1 })).pipe(Effect.provide(storeWith(observed)))
      assert.deepStrictEqual(JSON.parse(readFileSync(file, "utf8")), { value: 1 })
      assert.strictEqual(renames.length, 1)
      const [from, to] = renames[0]!
      assert.strictEqual(to, file)
      assert.strictEqual(yield* Effect.map(Path.Path, (p) => p.dirname(from)).pipe(Effect.provide(NodePath.layer)), dir)
      assert.deepStrictEqual(readdirSync(dir), ["results.json"])
    })
  )

  it.effect("a failure between the temporary write and the rename leaves the old content and no temporary file", () =>
    Effect.gen(function* () {
      const { dir, file } = folderWithOldFile()
      let written = ""
      const failingRename = fileSystemWith((fs) => ({
        writeFileString: (path, data, options) => Effect.zipRight(Effect.sync(() => (written = path)), fs.writeFileString(path, data, options)),
        rename: (from) => Effect.fail(injected("rename", from))
      }))
      const error = yield* Effect.flip(
        Effect.flatMap(RunStore, (store) => store.writeText(file, "new content\n")).pipe(Effect.provide(storeWith(failingRename)))
      )
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual(error.reason, "WriteFailed")
      assert.strictEqual(error.path, file)
      assert.include(error.detail, "injected fault")
      assert.notStrictEqual(written, "", "the temporary file was written before the rename failed")
      assert.strictEqual(readFileSync(file, "utf8"), "old content\n")
      assert.deepStrictEqual(readdirSync(dir), ["results.json"], "no temporary file survives")
    })
  )

  it.effect("a write that fails half-way (disk full) leaves the old content and no temporary file, for text and bytes", () =>
    Effect.gen(function* () {
      const { dir, file } = folderWithOldFile()
      // The temporary file gets part of the data, then the write fails as ENOSPC would.
      const diskFull = fileSystemWith((fs) => ({
        writeFileString: (path, data) => Effect.zipRight(fs.writeFileString(path, data.slice(0, 3)), Effect.fail(injected("writeFileString", path))),
        writeFile: (path, data) => Effect.zipRight(fs.writeFile(path, data.subarray(0, 3)), Effect.fail(injected("writeFile", path)))
      }))
      const store = storeWith(diskFull)
      yield* Effect.flip(Effect.flatMap(RunStore, (s) => s.writeText(file, "new content\n")).pipe(Effect.provide(store)))
      yield* Effect.flip(Effect.flatMap(RunStore, (s) => s.writeBytes(file, new Uint8Array([1, 2, 3, 4, 5]))).pipe(Effect.provide(store)))
      assert.strictEqual(readFileSync(file, "utf8"), "old content\n")
      assert.deepStrictEqual(readdirSync(dir), ["results.json"], "no temporary file survives")
    })
  )
})

describe("a folder that cannot be created says why", () => {
  it("a read-only file system, no permission, or a file where a folder should be: named at the nearest existing folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "icl-gd-ro-"))
    const failing = (code: string) => (path: string) => {
      if (path === dir) throw Object.assign(new Error(code), { code })
    }
    // node reports mkdir -p on a read-only file system as ENOENT for the missing parent; this is what the user sees.
    assert.strictEqual(
      whyNotWritable(join(dir, "out", "sweep"), failing("EROFS")),
      `${dir} is on a read-only file system: choose an output folder on a writable one (output.dir)`
    )
    assert.include(whyNotWritable(join(dir, "out"), failing("EACCES")) ?? "", `no permission to write in ${dir}`)
    writeFileSync(join(dir, "file"), "x")
    assert.strictEqual(whyNotWritable(join(dir, "file", "out")), `${join(dir, "file")} is a file, not a folder`)
    assert.strictEqual(whyNotWritable(join(dir, "fine", "out")), undefined)
  })

  it.effect("ensureDir under a file fails with that reason, not ENOENT", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "icl-gd-ro-"))
      writeFileSync(join(dir, "file"), "x")
      const store = yield* RunStore
      const error = yield* Effect.flip(store.ensureDir(join(dir, "file", "out", "sweep")))
      assert.strictEqual(error.message, `cannot write ${join(dir, "file", "out", "sweep")}: ${join(dir, "file")} is a file, not a folder`)
    }).pipe(Effect.provide(RunStore.Default))
  )
})
