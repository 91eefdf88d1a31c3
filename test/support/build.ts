/**
 * vitest's global set-up: builds the bundle that the CLI tests run (scripts/build.mjs) once, before any test file, so
 * that the test files' CLI processes find it built instead of each building it.
 */
import { ensureBuilt } from "../../scripts/build.mjs"

export default async function setup(): Promise<void> {
  await ensureBuilt()
}
