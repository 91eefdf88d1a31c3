/**
 * Builds what runs, from the sources, at install (`pnpm install` runs this script) and whenever they change:
 *
 *   build/classification.wasm  the fused engine's WebAssembly SIMD kernel, compiled by AssemblyScript from
 *                              assembly/classification.ts (rebuilt when assembly/ or the compiler changes).
 *   build/regression.wasm      the K-layer regression engine's SIMD kernel, from assembly/regression.ts.
 *   dist/<hash>/               the CLI and its worker threads bundled by esbuild into plain JavaScript, with the
 *                              kernel beside them; <hash> is a SHA-256 of every input (src/, assembly/, this script,
 *                              package.json, the lockfile). `pnpm start` runs the folder of the current hash, building
 *                              it first when there is none, so code edited in src/ or assembly/ never runs stale.
 *
 * Every output is written under a temporary name and renamed into place: concurrent builds (the test files' CLI
 * processes, two terminals) never see half an output, and the loser of a race discards its own.
 *
 *   node scripts/build.mjs          build what is stale, print the bundle's folder
 *   import { ensureBuilt } from "./build.mjs"
 */
import { createHash } from "node:crypto"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const distDir = join(root, "dist")
const buildDir = join(root, "build")

/** The bundle's entry points: the CLI, and each worker thread's body (a worker starts from a file of its own). */
const ENTRIES = {
  main: "src/main.ts",
  "run-worker": "src/programs/RunWorker.ts",
  "gradient-worker": "src/services/classification/GradientWorker.ts",
  "grid-worker": "src/services/classification/GridWorker.ts",
  "batch-worker": "src/services/classification/BatchWorker.ts",
  "regression-gradient-worker": "src/services/regression/GradientWorker.ts",
  "evaluation-worker": "src/services/classification/EvaluationWorker.ts"
}

/**
 * Loaded only when used, and left out of the bundle: TensorFlow.js (native and wasm builds that find files next to
 * their own modules) and the figure renderers.
 */
const EXTERNAL = ["@tensorflow/*", "vega", "vega-lite", "@resvg/*"]

/** Builds kept besides the newest: a process started from an older one may still start worker threads from it. */
const KEEP_BUILDS = 4

/** The WebAssembly kernels: AssemblyScript source → module name (in build/ and in each bundle). */
const KERNELS = { "assembly/classification.ts": "classification.wasm", "assembly/regression.ts": "regression.wasm" }

/**
 * AssemblyScript's options: optimised for speed, no runtime beyond a bump allocator (the kernel manages its own
 * memory), no assertions, 128-bit SIMD and bulk memory (both in Node 20's WebAssembly).
 */
const ASC_OPTIONS = ["--optimizeLevel", "3", "--shrinkLevel", "0", "--runtime", "stub", "--noAssert", "--enable", "simd", "--enable", "bulk-memory"]

const filesUnder = (dir) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const path = join(dir, entry.name)
        return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : []
      })
    : []

/** SHA-256 (16 hex digits) over the path and contents of every file given, in a fixed order. */
const hashFiles = (files, extra = "") => {
  const hash = createHash("sha256")
  hash.update(extra)
  for (const file of files.map((f) => relative(root, f)).sort()) {
    hash.update(`${file}\0`)
    hash.update(readFileSync(join(root, file)))
    hash.update("\0")
  }
  return hash.digest("hex").slice(0, 16)
}

const lockfile = join(root, "pnpm-lock.yaml")
const thisScript = fileURLToPath(import.meta.url)

/** The hash of the kernels' inputs: their sources, the compiler's version (in the lockfile), the options. */
const kernelHash = () => hashFiles([...filesUnder(join(root, "assembly")), thisScript, lockfile], ASC_OPTIONS.join(" "))

/** The hash of the bundle's inputs. */
export const inputHash = () =>
  hashFiles([...filesUnder(join(root, "src")), ...filesUnder(join(root, "assembly")), thisScript, join(root, "package.json"), lockfile])

/** Writes `contents` to `file` under a temporary name first, then renames it into place. */
const writeAtomically = (file, contents) => {
  const temporary = `${file}.tmp-${process.pid}`
  writeFileSync(temporary, contents)
  renameSync(temporary, file)
}

/** Compiles the WebAssembly kernels into build/ when their inputs changed since the last compile; returns the files. */
export const ensureKernels = async () => {
  const hash = kernelHash()
  const stamp = join(buildDir, "kernels.hash")
  const outputs = Object.values(KERNELS).map((name) => join(buildDir, name))
  if (existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash && outputs.every((f) => existsSync(f))) return outputs
  mkdirSync(buildDir, { recursive: true })
  const { default: asc } = await import("assemblyscript/asc")
  for (const [source, name] of Object.entries(KERNELS)) {
    const written = new Map()
    const { error } = await asc.main([source, "--baseDir", root, "--outFile", name, ...ASC_OPTIONS], {
      readFile: (file, baseDir) => {
        const path = join(baseDir, file)
        return existsSync(path) ? readFileSync(path, "utf8") : null
      },
      writeFile: (file, contents) => void written.set(file, contents),
      listFiles: (dir, baseDir) => (existsSync(join(baseDir, dir)) ? readdirSync(join(baseDir, dir)) : null),
      stdout: { write: () => true },
      stderr: { write: (text) => (process.stderr.write(text), true) }
    })
    // AssemblyScript has printed each problem with its source location.
    if (error) throw new Error(`AssemblyScript could not compile ${source}: ${error.message}`)
    writeAtomically(join(buildDir, name), written.get(name))
  }
  writeAtomically(stamp, `${hash}\n`)
  return outputs
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
    // Tells the sources that they run from the bundle: worker threads start from this folder's entries
    // (src/services/WorkerEntry.ts), and the kernels lie beside them (src/services/Kernels.ts).
    define: { __ICL_GD_BUNDLE__: "true" },
    // Dependencies written as CommonJS call require(); an ES module has none of its own.
    banner: { js: 'import { createRequire as __iclGdCreateRequire } from "node:module"; const require = __iclGdCreateRequire(import.meta.url);' },
    sourcemap: "linked",
    logLevel: "error"
  })
}

/** Removes all but the newest KEEP_BUILDS bundles, and temporary folders of builds that died an hour ago or more. */
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

/** The folder of the current bundle, built first (with the kernels) when its inputs changed. */
export const ensureBuilt = async () => {
  const hash = inputHash()
  const folder = join(distDir, hash)
  if (existsSync(join(folder, "main.js"))) return folder
  const kernels = await ensureKernels()
  mkdirSync(distDir, { recursive: true })
  const temporary = join(distDir, `.tmp-${hash}-${process.pid}`)
  try {
    await bundle(temporary)
    for (const kernel of kernels) copyFileSync(kernel, join(temporary, relative(buildDir, kernel)))
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

if (process.argv[1] === thisScript) {
  const folder = await ensureBuilt()
  process.stdout.write(`built ${relative(root, folder)}\n`)
}
