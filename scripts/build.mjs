/**
 * Builds what `pnpm start` runs: the CLI and its worker threads bundled by esbuild into one folder of plain
 * JavaScript, `dist/<hash>/`, where <hash> is a SHA-256 of every input (src/, this script, package.json and the
 * lockfile). A process that finds the folder of its inputs' hash runs it; one that does not builds it first, so code
 * edited in src/ never runs stale. Builds go to a temporary folder that is renamed into place: concurrent starts (a
 * sweep's tests, two terminals) never see half a build, and the loser of a race discards its own.
 *
 *   node scripts/build.mjs          build if stale, print the folder (run by `pnpm install`)
 *   import { ensureBuilt } from "./build.mjs"
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const distDir = join(root, "dist")

/** The bundle's entry points: the CLI, and each worker thread's body (a worker starts from a file of its own). */
const ENTRIES = {
  main: "src/main.ts",
  "run-worker": "src/programs/RunWorker.ts",
  "gradient-worker": "src/services/classification/GradientWorker.ts",
  "grid-worker": "src/services/classification/GridWorker.ts",
  "batch-worker": "src/services/classification/BatchWorker.ts",
  "regression-gradient-worker": "src/services/regression/GradientWorker.ts"
}

/**
 * Loaded only when used, and left out of the bundle: TensorFlow.js (native and wasm builds that find files next to
 * their own modules) and the figure renderers.
 */
const EXTERNAL = ["@tensorflow/*", "vega", "vega-lite", "@resvg/*"]

/** Builds kept besides the newest: a process started from an older one may still start worker threads from it. */
const KEEP_BUILDS = 4

const filesUnder = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : []
  })

/** SHA-256 over the path and contents of every input, in a fixed order. */
export const inputHash = () => {
  const hash = createHash("sha256")
  const inputs = [...filesUnder(join(root, "src")), fileURLToPath(import.meta.url), join(root, "package.json"), join(root, "pnpm-lock.yaml")]
  for (const file of inputs.map((f) => relative(root, f)).sort()) {
    hash.update(`${file}\0`)
    hash.update(readFileSync(join(root, file)))
    hash.update("\0")
  }
  return hash.digest("hex").slice(0, 16)
}

const bundle = async (outdir) => {
  const esbuild = await import("esbuild")
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.entries(ENTRIES).map(([out, entry]) => ({ in: entry, out })),
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: EXTERNAL,
    // Tells src/services/WorkerEntry.ts that worker threads start from this folder's entries.
    define: { __ICL_GD_BUNDLE__: "true" },
    // Dependencies written as CommonJS call require(); an ES module has none of its own.
    banner: { js: 'import { createRequire as __iclGdCreateRequire } from "node:module"; const require = __iclGdCreateRequire(import.meta.url);' },
    sourcemap: "linked",
    logLevel: "error"
  })
}

/** Removes all but the newest KEEP_BUILDS builds, and temporary folders of builds that died. */
const prune = (current) => {
  const builds = readdirSync(distDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== current)
    .map((e) => ({ name: e.name, mtime: statSync(join(distDir, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)
  const stale = Date.now() - 60 * 60 * 1000
  for (const [i, build] of builds.entries()) {
    const temporary = build.name.startsWith(".tmp-")
    if (temporary ? build.mtime < stale : i >= KEEP_BUILDS) rmSync(join(distDir, build.name), { recursive: true, force: true })
  }
}

/** The folder of the current build, built first when the inputs changed. */
export const ensureBuilt = async () => {
  const hash = inputHash()
  const folder = join(distDir, hash)
  if (existsSync(join(folder, "main.js"))) return folder
  mkdirSync(distDir, { recursive: true })
  const temporary = join(distDir, `.tmp-${hash}-${process.pid}`)
  try {
    await bundle(temporary)
    writeFileSync(join(temporary, "package.json"), '{ "type": "module" }\n')
    try {
      renameSync(temporary, folder)
    } catch (error) {
      // Another process finished the same build first: use theirs.
      if (!existsSync(join(folder, "main.js"))) throw error
    }
  } finally {
    rmSync(temporary, { recursive: true, force: true })
  }
  prune(hash)
  return folder
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const folder = await ensureBuilt()
  process.stdout.write(`built ${relative(root, folder)}\n`)
}
