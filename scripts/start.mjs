/**
 * `pnpm start`: runs the CLI from the bundle of the current sources (scripts/build.mjs), building it first when src/
 * changed since the last build. Compiled JavaScript starts in a fraction of the time that compiling TypeScript at
 * every start takes.
 */
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { ensureBuilt } from "./build.mjs"

let folder
try {
  folder = await ensureBuilt()
} catch (error) {
  // esbuild and AssemblyScript have printed each problem with its source location.
  process.stderr.write(`error: building the CLI failed${error instanceof Error && !error.message.startsWith("Build failed") ? `: ${error.message}` : " (see above)"}\n`)
  process.exit(1)
}
await import(pathToFileURL(join(folder, "main.js")).href)
