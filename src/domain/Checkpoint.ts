/**
 * The checkpoint file format every kind shares: a header line with a SHA-256 of the payload, then the payload (JSON),
 * so that a truncated or altered file fails the check. What the payload holds is the kind's (its weights, its
 * optimizer state, the training loop's position).
 */
import { createHash } from "node:crypto"

const HEADER = "icl-gd-checkpoint v1"

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** A payload under a checksummed header line. JSON keeps every float64 exactly (shortest round-trip form). */
export const encodeChecked = (payload: unknown): string => {
  const text = JSON.stringify(payload)
  return `${HEADER} ${sha256(text)}\n${text}`
}

/**
 * Stamps a checksummed text with the run it belongs to (its run id, in the header line): a checkpoint copied into
 * another run's folder is refused, not resumed. `icl-gd-checkpoint v1 <sha256> run <run id>`.
 */
export const withOwner = (text: string, runId: string): string => {
  const newline = text.indexOf("\n")
  return newline < 0 ? text : `${text.slice(0, newline)} run ${runId}${text.slice(newline)}`
}

/**
 * The payload of a checksummed text and the run it names (absent in checkpoints written before runs were named), or
 * the reason it cannot be trusted.
 */
export const decodeChecked = (text: string): { readonly payload: unknown; readonly owner?: string } | { readonly problem: string } => {
  const newline = text.indexOf("\n")
  if (newline < 0) return { problem: "no header line (truncated?)" }
  const header = text.slice(0, newline)
  const payload = text.slice(newline + 1)
  if (!header.startsWith(`${HEADER} `)) return { problem: "not an icl-gd checkpoint" }
  const [checksum, ...rest] = header.slice(HEADER.length + 1).split(" ")
  if (checksum !== sha256(payload)) return { problem: "checksum mismatch (truncated or altered)" }
  const owner = rest.length === 2 && rest[0] === "run" ? rest[1] : undefined
  if (rest.length > 0 && owner === undefined) return { problem: "unreadable header line" }
  try {
    return { payload: JSON.parse(payload), ...(owner === undefined ? {} : { owner }) }
  } catch (error) {
    return { problem: `unreadable payload: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/** The run a checkpoint text names in its header, if any (without checking the rest). */
export const ownerOf = (text: string): string | undefined => {
  const header = text.slice(0, Math.max(0, text.indexOf("\n")))
  const parts = header.split(" ")
  const at = parts.indexOf("run")
  return at >= 0 && at === parts.length - 2 ? parts[at + 1] : undefined
}
