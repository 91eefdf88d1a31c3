import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * Global set-up: every temporary folder the tests make (theirs, the CLI's they spawn, PostgreSQL's) goes under one
 * folder of this test run, removed when the run ends, passed or failed. Readable by others, since the throwaway
 * PostgreSQL runs as the postgres user.
 */
export default () => {
  const dir = mkdtempSync(join(tmpdir(), "icl-gd-tests-"))
  chmodSync(dir, 0o755)
  process.env.TMPDIR = dir
  return () => rmSync(dir, { recursive: true, force: true })
}
