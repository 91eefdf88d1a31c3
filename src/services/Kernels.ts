/**
 * The WebAssembly kernels built at install (scripts/build.mjs compiles assembly/*.ts): read and compiled once per
 * thread, on first use. A kernel that cannot load (no file, a WebAssembly without SIMD) is reported with its reason,
 * and its callers compute in JavaScript instead, with the same results. `ICL_GD_SIMD=0` in the environment turns
 * the kernels off (to compare, or to rule them out).
 */
import { readFileSync } from "node:fs"
import { bundled } from "./WorkerEntry.js"

export type KernelLoad =
  | { readonly loaded: true; readonly module: WebAssembly.Module }
  | { readonly loaded: false; readonly reason: string }

/** Where a kernel lies: beside the bundle that runs, or in build/ when running from the sources. */
const kernelFile = (name: string): URL =>
  bundled ? new URL(`./${name}`, import.meta.url) : new URL(`../../build/${name}`, import.meta.url)

const loads = new Map<string, KernelLoad>()

const load = (name: string): KernelLoad => {
  if (process.env["ICL_GD_SIMD"] === "0") return { loaded: false, reason: "turned off by ICL_GD_SIMD=0" }
  const file = kernelFile(name)
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch {
    return { loaded: false, reason: `${file.pathname} is missing (pnpm build makes it)` }
  }
  try {
    return { loaded: true, module: new WebAssembly.Module(bytes) }
  } catch (error) {
    return { loaded: false, reason: `this Node's WebAssembly cannot compile ${name}: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/** The compiled kernel module `name` (e.g. "classification.wasm"), or why it is unavailable. */
export const loadKernel = (name: string): KernelLoad => {
  let result = loads.get(name)
  if (result === undefined) {
    result = load(name)
    loads.set(name, result)
  }
  return result
}

/** The fused classification engine's SIMD kernel (assembly/classification.ts). */
export const classificationKernel = (): KernelLoad => loadKernel("classification.wasm")

/** The K-layer regression engine's SIMD kernel (assembly/regression.ts). */
export const regressionKernel = (): KernelLoad => loadKernel("regression.wasm")
