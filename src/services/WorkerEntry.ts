/**
 * Where a worker thread starts. In the bundle that `pnpm start` runs (scripts/build.mjs), every worker body is an
 * entry of its own next to the CLI's: `<bundle>/<name>.js`. Run from the TypeScript sources (tests, `pnpm tsx`), a
 * worker starts from the `.mjs` shim beside the module that spawns it, which registers tsx's loader first (worker
 * threads do not inherit it).
 */

/** Defined (true) by the bundler; absent when running from the sources. */
declare const __ICL_GD_BUNDLE__: boolean | undefined

export type WorkerName = "run-worker" | "gradient-worker" | "grid-worker" | "batch-worker" | "regression-gradient-worker" | "evaluation-worker"

export const bundled: boolean = typeof __ICL_GD_BUNDLE__ !== "undefined" && __ICL_GD_BUNDLE__

/** The module a worker named `name` starts from; `shim` is the source tree's `.mjs` entry for it. */
export const workerEntry = (name: WorkerName, shim: URL): URL => (bundled ? new URL(`./${name}.js`, import.meta.url) : shim)
