/**
 * Run files on disk. Every file is written atomically (a temporary file in the same folder, then a rename), so a
 * crash at any moment leaves each file either whole at its old content or whole at its new content.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { StoreError } from "../domain/Errors.js"

const detailOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export class RunStore extends Effect.Service<RunStore>()("icl-gd/RunStore", {
  effect: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let counter = 0

    const writeFailed = (file: string) => (error: unknown) =>
      new StoreError({ reason: "WriteFailed", path: file, detail: detailOf(error) })

    const ensureDir = (dir: string) =>
      fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(writeFailed(dir)))

    /**
     * Writes a temporary file beside the target with `write`, then renames it over the target. When either step fails
     * (or is interrupted) the temporary file is removed and the target keeps its old content.
     */
    const atomically = <E>(file: string, write: (temporary: string) => Effect.Effect<void, E>) =>
      Effect.suspend(() => {
        counter += 1
        const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter}.tmp`)
        return Effect.zipRight(write(temporary), fs.rename(temporary, file)).pipe(
          Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : fs.remove(temporary).pipe(Effect.ignore)))
        )
      }).pipe(Effect.mapError(writeFailed(file)))

    /** Writes text to a file atomically. */
    const writeText = (file: string, text: string) => atomically(file, (temporary) => fs.writeFileString(temporary, text))

    /** Renames a file when it exists (atomic on one file system); nothing happens otherwise. */
    const renameIfExists = (from: string, to: string) =>
      fs.exists(from).pipe(
        Effect.flatMap((exists) => (exists ? fs.rename(from, to) : Effect.void)),
        Effect.mapError(writeFailed(to))
      )

    /** Deletes temporary files that a killed process left behind in a folder (their targets are intact). */
    const removeTemporaries = (dir: string) =>
      fs.readDirectory(dir).pipe(
        Effect.flatMap((names) =>
          Effect.forEach(
            names.filter((name) => name.startsWith(".") && name.endsWith(".tmp")),
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

    return { ensureDir, writeText, writeBytes, writeJson, readText, readJson, renameIfExists, removeTemporaries, join: path.join, resolve: path.resolve } as const
  }),
  dependencies: [Layer.merge(NodeFileSystem.layer, NodePath.layer)]
}) {}
