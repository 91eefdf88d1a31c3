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

/** The payload of a checksummed text, or the reason it cannot be trusted. */
export const decodeChecked = (text: string): { readonly payload: unknown } | { readonly problem: string } => {
  const newline = text.indexOf("\n")
  if (newline < 0) return { problem: "no header line (truncated?)" }
  const header = text.slice(0, newline)
  const payload = text.slice(newline + 1)
  if (!header.startsWith(`${HEADER} `)) return { problem: "not an icl-gd checkpoint" }
  if (header.slice(HEADER.length + 1) !== sha256(payload)) return { problem: "checksum mismatch (truncated or altered)" }
  try {
    return { payload: JSON.parse(payload) }
  } catch (error) {
    return { problem: `unreadable payload: ${error instanceof Error ? error.message : String(error)}` }
  }
}
