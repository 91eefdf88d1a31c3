/**
 * Run files on disk. Every file is written atomically (a temporary file in the same folder, then a rename), so a
 * crash at any moment leaves each file either whole at its old content or whole at its new content.
 */
import { accessSync, constants, existsSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { StoreError } from "../domain/Errors.js"

const detailOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** A temporary file of an atomic write: `.<target>.<pid>.<counter>.tmp`. */
const TEMPORARY = /^\..+\.(\d+)\.\d+\.tmp$/

const isLiveProcess = (pid: number): boolean => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Why nothing can be created under `dir`, found at its nearest existing ancestor: a read-only file system, no
 * permission, or a file where a folder should be; undefined when none of these holds.
 */
export const whyNotWritable = (dir: string, access: (path: string, mode: number) => void = accessSync): string | undefined => {
  let at = dir
  while (!existsSync(at)) {
    const parent = dirname(at)
    if (parent === at) return undefined
    at = parent
  }
  if (!statSync(at).isDirectory()) return `${at} is a file, not a folder`
  try {
    access(at, constants.W_OK)
    return undefined
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "EROFS") return `${at} is on a read-only file system: choose an output folder on a writable one (output.dir)`
    if (code === "EACCES" || code === "EPERM") return `no permission to write in ${at}: choose another output folder (output.dir), or change its permissions`
    return undefined
  }
}

export class RunStore extends Effect.Service<RunStore>()("icl-gd/RunStore", {
  effect: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let counter = 0

    const writeFailed = (file: string) => (error: unknown) =>
      new StoreError({ reason: "WriteFailed", path: file, detail: detailOf(error) })

    /**
     * Creates a folder and its parents. When that fails, the message says why in the terms of the nearest folder that
     * exists (node reports a read-only file system as ENOENT for the missing parent).
     */
    const ensureDir = (dir: string) =>
      fs.makeDirectory(dir, { recursive: true }).pipe(
        Effect.catchAll((error) =>
          Effect.sync(() => whyNotWritable(path.resolve(dir))).pipe(
            Effect.flatMap((why) => Effect.fail(new StoreError({ reason: "WriteFailed", path: dir, detail: why ?? detailOf(error) })))
          )
        )
      )

    /**
     * Writes a temporary file beside the target with `write`, then renames it over the target. The two steps are not
     * interrupted (an interrupt waits for the rename); when either fails the temporary file is removed and the target
     * keeps its old content.
     */
    const atomically = <E>(file: string, write: (temporary: string) => Effect.Effect<void, E>) =>
      Effect.suspend(() => {
        counter += 1
        const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter}.tmp`)
        return write(temporary).pipe(
          Effect.zipRight(fs.rename(temporary, file)),
          Effect.onError(() => fs.remove(temporary).pipe(Effect.ignore)),
          Effect.uninterruptible,
          Effect.mapError(writeFailed(file))
        )
      })

    /** Writes text to a file atomically. */
    const writeText = (file: string, text: string) => atomically(file, (temporary) => fs.writeFileString(temporary, text))

    /** Renames a file when it exists (atomic on one file system); nothing happens otherwise. */
    const renameIfExists = (from: string, to: string) =>
      fs.exists(from).pipe(
        Effect.flatMap((exists) => (exists ? fs.rename(from, to) : Effect.void)),
        Effect.mapError(writeFailed(to))
      )

    /**
     * Deletes the temporary files that processes no longer running left behind in a folder (their targets are intact).
     * A temporary file names the process that writes it (`.<file>.<pid>.<n>.tmp`); a live process's are left alone.
     */
    const removeTemporaries = (dir: string) =>
      fs.readDirectory(dir).pipe(
        Effect.flatMap((names) =>
          Effect.forEach(
            names.filter((name) => {
              const match = TEMPORARY.exec(name)
              return match !== null && !isLiveProcess(Number(match[1]))
            }),
            (name) => fs.remove(path.join(dir, name)).pipe(Effect.ignore),
            { discard: true }
          )
        ),
        Effect.orElseSucceed(() => undefined)
      )

    /** Writes bytes to a file atomically. */
    const writeBytes = (file: string, bytes: Uint8Array) => atomically(file, (temporary) => fs.writeFile(temporary, bytes))

    const writeJson = (file: string, value: unknown) => writeText(file, `${JSON.stringify(value, null, 2)}\n`)

    /** A file's text, or none when it does not exist. */
    const readText = (file: string) =>
      fs.exists(file).pipe(
        Effect.flatMap((exists) => (exists ? fs.readFileString(file).pipe(Effect.map(Option.some)) : Effect.succeed(Option.none()))),
        Effect.mapError((error) => new StoreError({ reason: "ReadFailed", path: file, detail: detailOf(error) }))
      )

    const readJson = (file: string) =>
      readText(file).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeedNone,
            onSome: (text) =>
              Effect.try({
                try: () => Option.some(JSON.parse(text) as unknown),
                catch: (error) => new StoreError({ reason: "Corrupt", path: file, detail: detailOf(error) })
              })
          })
        )
      )

    /** Removes a file; nothing happens when it does not exist. */
    const remove = (file: string) =>
      fs.exists(file).pipe(
        Effect.flatMap((exists) => (exists ? fs.remove(file) : Effect.void)),
        Effect.mapError(writeFailed(file))
      )

    /** What is at a path: a folder, a file, or nothing (none). */
    const kindOf = (file: string) =>
      fs.stat(file).pipe(
        Effect.map((info) => Option.some(info.type === "Directory" ? ("folder" as const) : ("file" as const))),
        Effect.catchIf(
          (error) => error._tag === "SystemError" && error.reason === "NotFound",
          () => Effect.succeed(Option.none<"folder" | "file">())
        ),
        Effect.mapError((error) => new StoreError({ reason: "ReadFailed", path: file, detail: detailOf(error) }))
      )

    /** The names in a folder. */
    const list = (dir: string) =>
      fs.readDirectory(dir).pipe(Effect.mapError((error) => new StoreError({ reason: "ReadFailed", path: dir, detail: detailOf(error) })))

    return { ensureDir, writeText, remove, kindOf, list, writeBytes, writeJson, readText, readJson, renameIfExists, removeTemporaries, join: path.join, resolve: path.resolve } as const
  }),
  dependencies: [Layer.merge(NodeFileSystem.layer, NodePath.layer)]
}) {}
