/**
 * What a run's memory is made of, estimated from its config before anything is written, so that a run that cannot fit
 * on the machine is refused up front (exit 2, the fields, the estimate and the memory available) instead of growing
 * until the OOM killer ends it or V8 stops it with a stack trace. Each kind estimates its own terms (its Memory
 * module); the estimates are calibrated on measured peak resident memory and err on the high side.
 */

/** One part of a run's memory: what it holds, the config fields it grows with (and their values), its bytes. */
export interface MemoryTerm {
  readonly what: string
  readonly fields: Readonly<Record<string, unknown>>
  readonly bytes: number
}

/** The memory of node, TensorFlow.js and the program before any data: measured about 190 MB, rounded up. */
export const BASE_BYTES = 250 * 2 ** 20

/** The share of the machine's memory a sweep may plan to use (the rest: the OS, other programs). */
export const USABLE_SHARE = 0.9

export const totalBytes = (terms: ReadonlyArray<MemoryTerm>) => BASE_BYTES + terms.reduce((sum, term) => sum + term.bytes, 0)

/** Bytes in human units: "812 MB", "22.4 GB". */
export const formatBytes = (bytes: number): string => {
  if (!Number.isFinite(bytes)) return "more than any machine has"
  const units = ["B", "KB", "MB", "GB", "TB", "PB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`
}

/** "evaluation set (evaluation.size = 10000000, task.n = 100): 6.5 GB" */
export const describeTerm = (term: MemoryTerm): string =>
  `${term.what} (${Object.entries(term.fields)
    .map(([path, value]) => `${path} = ${JSON.stringify(value)}`)
    .join(", ")}): ${formatBytes(term.bytes)}`
