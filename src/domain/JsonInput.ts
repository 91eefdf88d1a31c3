/**
 * A config file's text as JSON, with the problems a person can act on: a syntax error located by line and column
 * (with the line and a caret under the place), an empty file, and a value nested deeper than any config is (which
 * would otherwise exhaust the stack of the code that walks it). Pure: no file system.
 */
import type { ConfigIssue } from "./ConfigSchema.js"

/** No config field is nested more than a few levels (sweep.cases[i]["references.cSigma"].min is 5); 32 is generous. */
export const MAX_DEPTH = 32

/** The longest part of a line echoed under a syntax error. */
const EXCERPT = 60

/** Where an offset falls in a text: 1-based line and column (in characters). */
export const lineAndColumn = (text: string, offset: number): { readonly line: number; readonly column: number } => {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)))
  const lines = before.split("\n")
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 }
}

/** The line of `text` holding `line`, cut to EXCERPT characters around `column`, with a caret under the column. */
const excerpt = (text: string, line: number, column: number): string => {
  const full = (text.split("\n")[line - 1] ?? "").replace(/\r$/, "").replace(/\t/g, " ")
  const start = Math.max(0, Math.min(column - 1 - EXCERPT / 2, full.length - EXCERPT))
  const shown = full.slice(start, start + EXCERPT)
  const prefix = start > 0 ? "…" : ""
  const suffix = start + EXCERPT < full.length ? "…" : ""
  return `    ${prefix}${shown}${suffix}\n    ${" ".repeat(prefix.length + Math.max(0, column - 1 - start))}^`
}

/**
 * The offset of the first character where `text` stops being JSON (RFC 8259), or its length when it ends too early.
 * Used only after JSON.parse failed, whose message gives no position for some errors ("Unexpected token 'N'"). Walks
 * without recursion, so any nesting is fine.
 */
export const firstErrorOffset = (text: string): number => {
  let i = 0
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++
  }
  /** Reads one scalar value at i; false at the first character that cannot be one. */
  const scalar = (): boolean => {
    const c = text[i]
    if (c === '"') {
      i++
      while (i < text.length && text[i] !== '"') {
        const code = text.charCodeAt(i)
        if (code < 0x20) return false
        if (text[i] === "\\") {
          i++
          if (text[i] === "u") {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return false
            i += 4
          } else if (text[i] === undefined || !'"\\/bfnrt'.includes(text[i]!)) return false
        }
        i++
      }
      if (i >= text.length) return false
      i++
      return true
    }
    const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (number !== null && number[0] !== "" && number[0] !== "-") {
      i += number[0].length
      return true
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length
        return true
      }
    }
    // The longest prefix of a literal that the text holds: the error is just past it.
    for (const word of ["true", "false", "null"]) {
      let k = 0
      while (k < word.length && text[i + k] === word[k]) k++
      if (k > 0) {
        i += k
        return false
      }
    }
    if (c === "-") i++
    return false
  }
  const stack: Array<"{" | "["> = []
  ws()
  for (;;) {
    // Expecting a value.
    if (i >= text.length) return text.length
    const c = text[i]
    if (c === "{" || c === "[") {
      stack.push(c)
      i++
      ws()
      if (text[i] === (c === "{" ? "}" : "]")) {
        stack.pop()
        i++
      } else if (c === "{") {
        if (text[i] !== '"' || !scalar()) return i
        ws()
        if (text[i] !== ":") return i
        i++
        ws()
        continue
      } else continue
    } else if (!scalar()) return i
    // After a value: a separator, a close, or the end.
    for (;;) {
      ws()
      const top = stack[stack.length - 1]
      if (top === undefined) return i < text.length ? i : text.length
      if (i >= text.length) return text.length
      if (text[i] === ",") {
        i++
        ws()
        if (top === "{") {
          if (text[i] !== '"' || !scalar()) return i
          ws()
          if (text[i] !== ":") return i
          i++
        }
        ws()
        break
      }
      if (text[i] === (top === "{" ? "}" : "]")) {
        stack.pop()
        i++
        continue
      }
      return i
    }
  }
}

/**
 * Parses a config file's text. A byte-order mark is skipped. On failure, the problem in words: "the file is empty",
 * or "line 4, column 3: Expected double-quoted property name" followed by the line and a caret.
 */
export const parseJsonText = (raw: string): { readonly value: unknown } | { readonly problem: string } => {
  const text = raw.startsWith("\uFEFF") ? raw.slice(1) : raw
  if (text.trim() === "") return { problem: "the file is empty (a config is a JSON object: {} runs every default)" }
  try {
    return { value: JSON.parse(text) as unknown }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const offset = firstErrorOffset(text)
    const ended = offset >= text.length || /end of JSON input/i.test(message)
    const reason = ended
      ? "the text ends before the JSON value does (a missing } or ]?)"
      : /^Unexpected token/.test(message)
        ? `unexpected ${JSON.stringify(Array.from(text.slice(offset))[0])}`
        : cutReason(message.replace(/ at position \d+.*$/s, "").replace(/ in JSON$/, ""))
    const { line, column } = lineAndColumn(text, Math.min(offset, text.trimEnd().length))
    return { problem: `line ${line}, column ${column}: ${reason}\n${excerpt(text, line, column)}` }
  }
}

const cutReason = (message: string) => (message.length > 120 ? `${message.slice(0, 119)}…` : message)

const isContainer = (value: unknown): value is Record<string, unknown> | Array<unknown> => value !== null && typeof value === "object"

/** A path's text as messages show it: each key cut to 40 characters. */
const pathText = (keys: ReadonlyArray<string | number>) =>
  keys
    .map((key) => (typeof key === "number" ? `[${key}]` : key.length > 40 ? `.${key.slice(0, 39)}…` : `.${key}`))
    .join("")
    .replace(/^\./, "")

/**
 * Problems of shape that no schema would report before the stack runs out: a value nested deeper than MAX_DEPTH. Walks
 * the value without recursion; reports the first such place.
 */
export const shapeIssues = (value: unknown): Array<ConfigIssue> => {
  const stack: Array<{ readonly value: unknown; readonly keys: ReadonlyArray<string | number> }> = [{ value, keys: [] }]
  while (stack.length > 0) {
    const { value: node, keys } = stack.pop()!
    if (!isContainer(node)) continue
    if (keys.length >= MAX_DEPTH) {
      return [{ path: pathText(keys.slice(0, 6)) + "…", message: `nested deeper than ${MAX_DEPTH} levels (a config is a few levels deep)` }]
    }
    if (Array.isArray(node)) node.forEach((child, i) => stack.push({ value: child, keys: [...keys, i] }))
    else for (const [key, child] of Object.entries(node)) stack.push({ value: child, keys: [...keys, key] })
  }
  return []
}
