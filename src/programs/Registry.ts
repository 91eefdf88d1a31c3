/**
 * The experiment kinds this package knows, and the only place that chooses between them: a config is decoded, run,
 * tabulated, reported and printed by the kind its `task.family` names (the first kind when it names none). Adding a
 * kind is adding its folder and one line to `kinds`.
 */
import { Either, Layer } from "effect"
import type { BaseConfig, ConfigIssue } from "../domain/ConfigSchema.js"
import { decodeWithKinds, kindOfInput, planSweepWith, type SweepPlan } from "../domain/Sweep.js"
import { classification } from "./classification/Experiment.js"
import type { AnyExperiment, FailureOf, ReportServicesOf, RunServicesOf } from "./Experiment.js"
import { regression } from "./regression/Experiment.js"
import type { RunFolderOptions } from "./RunFolder.js"

const kinds = [classification, regression] as const

type Kind = (typeof kinds)[number]
/** The services any kind's runs need. */
export type RunServices = RunServicesOf<Kind>
/** The services any kind's reports need. */
export type ReportServices = ReportServicesOf<Kind>
/** What any kind's runs and reports can fail with. */
export type ExperimentFailure = FailureOf<Kind>

export const experiments: ReadonlyArray<AnyExperiment<ExperimentFailure, RunServices, ReportServices>> = kinds

type Provides<L> = L extends Layer.Layer<infer A, any, any> ? A : never
type Requires<L> = L extends Layer.Layer<any, any, infer R> ? R : never
type Fails<L> = L extends Layer.Layer<any, infer E, any> ? E : never

/** Every kind's own services (what each kind's `layer` provides, merged). */
export const ExperimentServicesLive = Layer.mergeAll(...(kinds.map((kind) => kind.layer) as [Kind["layer"], ...Array<Kind["layer"]>])) as Layer.Layer<
  Provides<Kind["layer"]>,
  Fails<Kind["layer"]>,
  Requires<Kind["layer"]>
>

/** The kind of a raw (undecoded) config, or of a stored one. */
export const experimentOfInput = (value: unknown): AnyExperiment<ExperimentFailure, RunServices, ReportServices> => kindOfInput(experiments, value)

/** The kind of a resolved config. */
export const experimentOf = (config: BaseConfig): AnyExperiment<ExperimentFailure, RunServices, ReportServices> => kindOfInput(experiments, config)

/** The kind named `name` (as a sweep plan records it). */
export const experimentNamed = (name: string): AnyExperiment<ExperimentFailure, RunServices, ReportServices> =>
  experiments.find((kind) => kind.name === name) ?? experiments[0]!

/** Decodes any kind's config from a parsed JSON value (without a sweep section); every problem at once. */
export const decodeRunConfig = (value: unknown): Either.Either<BaseConfig, ReadonlyArray<ConfigIssue>> => decodeWithKinds(experiments, value)

/** Expands a parsed config file (with or without a sweep section) into its runs. */
export const planSweep: (value: unknown) => Either.Either<SweepPlan, ReadonlyArray<ConfigIssue>> = planSweepWith(experiments)

/** Trains any run by its kind (see Experiment.run). */
export const runExperiment = (config: BaseConfig, options: RunFolderOptions = {}) => experimentOf(config).run(config, options)
