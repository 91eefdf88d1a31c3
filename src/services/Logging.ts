/**
 * Structured logs: one readable line per event on the terminal (stderr), JSON lines in a run's log file, and a
 * progress line with an ETA that only a terminal gets.
 */
import { appendFileSync } from "node:fs"
import { Cause, Console, Effect, HashMap, Layer, List, Logger, LogLevel } from "effect"

const isTerminal = (): boolean => process.stderr.isTTY === true

const formatValue = (value: unknown): string => {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(4)
  if (typeof value === "string") return /\s/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value)
}

/** A progress line is on screen; a log line must erase it first. */
let progressShown = false

/** `HH:MM:SS LEVEL message key=value …`, one line on stderr. */
export const terminalLogger = Logger.make(({ logLevel, message, annotations, cause, date }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
  const fields = [...HashMap.toEntries(annotations)].map(([k, v]) => `${k}=${formatValue(v)}`)
  const causeText = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  const line = `${date.toISOString().slice(11, 19)} ${logLevel.label.padEnd(5)} ${text}${fields.length > 0 ? ` ${fields.join(" ")}` : ""}${causeText}`
  process.stderr.write(`${progressShown ? "\r\x1b[K" : ""}${line}\n`)
  progressShown = false
})

/** A line on the terminal (stderr) for the person at it, whatever the log level: the progress line is erased first. */
export const terminalLine = (text: string) =>
  Effect.sync(() => {
    process.stderr.write(`${progressShown ? "\r\x1b[K" : ""}${text}\n`)
    progressShown = false
  })

/** JSON lines appended to a file: timestamp, level, message, annotations, spans, cause. */
export const fileLogger = (file: string) =>
  Logger.make(({ logLevel, message, annotations, cause, date, spans }) => {
    const now = date.getTime()
    const record = {
      timestamp: date.toISOString(),
      level: logLevel.label,
      message: Array.isArray(message) && message.length === 1 ? message[0] : message,
      ...(HashMap.size(annotations) > 0 ? { annotations: Object.fromEntries(HashMap.toEntries(annotations)) } : {}),
      ...(List.isCons(spans) ? { spans: Object.fromEntries(List.toArray(spans).map((s) => [s.label, now - s.startTime])) } : {}),
      ...(Cause.isEmpty(cause) ? {} : { cause: Cause.pretty(cause) })
    }
    appendFileSync(file, `${JSON.stringify(record)}\n`)
  })

/** Adds the run's JSON-lines log file to the loggers of an effect. */
export const withRunLogFile =
  (file: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provide(effect, Logger.add(fileLogger(file)))

/** The CLI's loggers: the terminal logger in place of the default, at the level of LOG_LEVEL (default Info). */
export const TerminalLoggingLive = Layer.merge(
  Logger.replace(Logger.defaultLogger, terminalLogger),
  Logger.minimumLogLevel(
    LogLevel.allLevels.find((level) => level.label === (process.env["LOG_LEVEL"] ?? "INFO").toUpperCase()) ?? LogLevel.Info
  )
)

const ANSI_SEQUENCE = /\u001b\[[0-9;]*[A-Za-z]/g

/** Text for a stream: ANSI colours and cursor codes only when it is a terminal. */
const plainFor = (stream: NodeJS.WriteStream) => (args: ReadonlyArray<unknown>): Array<unknown> =>
  stream.isTTY === true ? [...args] : args.map((arg) => (typeof arg === "string" ? arg.replace(ANSI_SEQUENCE, "") : arg))

/**
 * The console, without ANSI codes on a stream that is not a terminal (help text and usage errors of @effect/cli are
 * styled for terminals; in a pipe or a file they would be escape codes).
 */
export const PlainConsoleLive = Layer.unwrapEffect(
  Console.consoleWith((base) => {
    const out = plainFor(process.stdout)
    const err = plainFor(process.stderr)
    return Effect.succeed(
      Console.setConsole({
        ...base,
        log: (...args: ReadonlyArray<unknown>) => base.log(...out(args)),
        info: (...args: ReadonlyArray<unknown>) => base.info(...out(args)),
        error: (...args: ReadonlyArray<unknown>) => base.error(...err(args)),
        warn: (...args: ReadonlyArray<unknown>) => base.warn(...err(args))
      })
    )
  })
)

const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  const s = Math.max(0, Math.round(seconds))
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
      : `${s}s`
}

/** A throttled progress line with ETA, drawn on stderr only when it is a terminal and progress is enabled. */
export const makeProgress = (label: string, total: number, enabled: boolean) => {
  const active = enabled && isTerminal()
  const started = Date.now()
  let lastDraw = 0
  return {
    update: (done: number, detail: string) => {
      if (!active) return
      const now = Date.now()
      if (now - lastDraw < 200 && done < total) return
      lastDraw = now
      const elapsed = (now - started) / 1000
      const eta = done > 0 ? (elapsed / done) * (total - done) : Number.NaN
      const width = 20
      const filled = Math.round((width * done) / Math.max(1, total))
      const bar = `${"#".repeat(filled)}${".".repeat(width - filled)}`
      process.stderr.write(`\r\x1b[K${label} [${bar}] ${done}/${total} ${detail} ETA ${formatDuration(eta)}`)
      progressShown = true
    },
    done: () => {
      if (active && progressShown) process.stderr.write("\r\x1b[K")
      progressShown = false
    }
  }
}

export { formatDuration }
