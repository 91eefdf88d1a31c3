/**
 * One share of an evaluation set's predictions: the model's logits and Jacobians (Model.forwardBatch) or a GD
 * reference's (GdMath.referencePredict) for the contexts [from, to), written at their own places in shared output
 * arrays. Every context's prediction depends on that context alone, so the outputs are the same bits however the set
 * is shared between threads. Computed by the evaluation pool's threads (EvaluationPool, EvaluationWorker). The
 * model's predictions come from the SIMD kernel when it loads (SimdKernel.simdEvaluator, the same bits), which holds
 * the share's contexts in its memory from one evaluation point to the next.
 */
import type { ReferenceParams, ReferenceShape } from "../../domain/classification/GdMath.js"
import { referencePredict } from "../../domain/classification/GdMath.js"
import { forwardBatch, type ModelSpec, type Weights } from "../../domain/classification/Model.js"
import { type SimdEvaluator, simdEvaluator } from "../../domain/classification/SimdKernel.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import { classificationKernel } from "../Kernels.js"

export type Prediction =
  | { readonly kind: "model"; readonly spec: ModelSpec; readonly weights: Weights }
  | { readonly kind: "reference"; readonly shape: ReferenceShape; readonly params: ReferenceParams }

export interface Share {
  readonly prediction: Prediction
  /** A set in shared memory (a frozen set), read in place. */
  readonly set: TaskBatch
  /** The set's identity within its process (the same on every thread), under which a share's contexts stay loaded. */
  readonly setId: number
  readonly from: number
  readonly to: number
  /** [N, C] and [N, C, d] over the whole set, in shared memory. */
  readonly logits: Float64Array
  readonly jacobians: Float64Array
}

const setIds = new WeakMap<TaskBatch, number>()
let nextSetId = 0

/** A set's identity on this thread (which sends it, with its shares, to the helpers it owns). */
export const setIdOf = (set: TaskBatch): number => {
  let id = setIds.get(set)
  if (id === undefined) {
    id = nextSetId++
    setIds.set(set, id)
  }
  return id
}

/** Tasks [from, to) of a batch as a batch of their own, sharing its memory. */
const range = (batch: TaskBatch, from: number, to: number): TaskBatch => {
  const { n, d } = batch
  return {
    ...batch,
    size: to - from,
    x: batch.x.subarray(from * n * d, to * n * d),
    labels: batch.labels.subarray(from * n, to * n),
    query: batch.query.subarray(from * d, to * d),
    queryLabel: batch.queryLabel.subarray(from, to)
  }
}

/** Evaluators kept loaded on this thread (a run's evaluation set; a sweep's next runs on the same set reuse them). */
const evaluators: Array<{ readonly key: string; readonly evaluator: SimdEvaluator }> = []
const KEEP_EVALUATORS = 2

const evaluatorFor = (module: WebAssembly.Module, set: TaskBatch, setId: number, from: number, to: number) => {
  const key = `${setId}:${from}:${to}`
  let index = evaluators.findIndex((e) => e.key === key)
  if (index < 0) {
    evaluators.unshift({ key, evaluator: simdEvaluator(module, set, from, to) })
    evaluators.splice(KEEP_EVALUATORS)
    index = 0
  }
  return evaluators[index]!.evaluator
}

export const computeShare = ({ prediction, set, setId, from, to, logits, jacobians }: Share): void => {
  if (to <= from) return
  const part = range(set, from, to)
  const kernel = classificationKernel()
  const out =
    prediction.kind === "reference"
      ? ((kernel.loaded ? evaluatorFor(kernel.module, set, setId, from, to).predictReference(prediction.shape, prediction.params) : undefined) ??
        referencePredict(prediction.shape, prediction.params, part, true))
      : kernel.loaded
        ? evaluatorFor(kernel.module, set, setId, from, to).predict(prediction.spec, prediction.weights)
        : forwardBatch(prediction.spec, prediction.weights, part, true)
  const { C, d } = set
  logits.set(out.logits, from * C)
  jacobians.set(out.jacobians!, from * C * d)
}
