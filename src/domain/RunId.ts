/**
 * Run identity: a hash of the canonical resolved config. The output and runtime sections are left out, since where a
 * run reports and how it executes do not change what it computes.
 */
import { createHash } from "node:crypto"
import { type BaseConfig, canonicalJson } from "./ConfigSchema.js"

export const configHash = (config: BaseConfig): string => {
  const { output: _output, runtime: _runtime, ...identity } = config
  return createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, 12)
}

/** The run's folder name: readable name, then the hash. */
export const runIdOf = (config: BaseConfig): string => `${config.name}-${configHash(config)}`
