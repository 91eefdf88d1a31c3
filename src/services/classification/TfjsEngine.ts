/**
 * The TensorFlow.js engine: the model of spec §2 written with tensor ops (float32), differentiated by autodiff. It is
 * the reference the fused engine is tested against, and the engine for models outside the fused family.
 * Tensors never leave this module: every call runs inside tf.tidy and returns plain numbers.
 */
import type { Gradients } from "../../domain/classification/FusedGradient.js"
import type { ModelSpec, Weights } from "../../domain/classification/Model.js"
import type { TaskBatch } from "../../domain/classification/Task.js"
import type { TfCore } from "../TfBackend.js"

type Tensor = ReturnType<TfCore["tensor"]>

/** Token tensors of a batch: keys/values [B, keys, D] (context, then the query when it attends to itself), query [B, D]. */
const tokensOf = (spec: ModelSpec, batch: TaskBatch) => {
  const { n, d, size: B } = batch
  const D = spec.d + spec.C
  const keys = spec.attendToQuery ? n + 1 : n
  const tokens = new Float32Array(B * keys * D)
  const query = new Float32Array(B * D)
  const onehot = new Float32Array(B * spec.C)
  for (let t = 0; t < B; t++) {
    for (let i = 0; i < n; i++) {
      const base = (t * keys + i) * D
      for (let k = 0; k < d; k++) tokens[base + k] = batch.x[(t * n + i) * d + k]!
      tokens[base + d + batch.labels[t * n + i]!] = 1
    }
    for (let k = 0; k < d; k++) {
      query[t * D + k] = batch.query[t * d + k]!
      if (spec.attendToQuery) tokens[(t * keys + n) * D + k] = batch.query[t * d + k]!
    }
    onehot[t * spec.C + batch.queryLabel[t]!] = 1
  }
  return { tokens, query, onehot, keys, D }
}

/** Mean cross-entropy of the batch as a scalar tensor of the weights (kq, pv), for autodiff. */
export const lossTensor = (tf: TfCore, spec: ModelSpec, batch: TaskBatch) => {
  const { tokens, query, onehot, keys, D } = tokensOf(spec, batch)
  const B = batch.size
  const n = batch.n
  return (kq: Tensor, pv: Tensor): Tensor => {
    const tokenT = tf.tensor3d(tokens, [B, keys, D])
    const queryT = tf.tensor2d(query, [B, D])
    const u = tf.matMul(queryT, kq as ReturnType<TfCore["tensor2d"]>, false, true) // [B, D]
    const scores = tf.squeeze(tf.matMul(tokenT, tf.expandDims(u, 2)), [2]) // [B, keys]
    const scaled = tf.div(scores, Math.sqrt(D))
    const attention =
      spec.attention === "linear"
        ? tf.div(scores, n)
        : spec.attention === "softmax"
          ? tf.softmax(scaled)
          : tf.div(tf.exp(tf.sub(scaled, spec.expShift)), n)
    const h = tf.squeeze(tf.matMul(tf.expandDims(attention, 1), tokenT), [1]) // [B, D]
    const readout = tf.slice(pv, [spec.d, 0], [spec.C, D]) as ReturnType<TfCore["tensor2d"]>
    const logits = tf.matMul(h as ReturnType<TfCore["tensor2d"]>, readout, false, true) // [B, C]
    return tf.losses.softmaxCrossEntropy(tf.tensor2d(onehot, [B, spec.C]), logits)
  }
}

/** Mean cross-entropy and its gradient by TensorFlow.js autodiff; writes the gradient into `grads`. */
export const tfjsLossAndGradients = (
  tf: TfCore,
  spec: ModelSpec,
  w: Weights,
  batch: TaskBatch,
  grads: Gradients
): number =>
  tf.tidy(() => {
    const D = w.D
    const loss = lossTensor(tf, spec, batch)
    const kq = tf.tensor2d(Float32Array.from(w.kq), [D, D])
    const pv = tf.tensor2d(Float32Array.from(w.pv), [D, D])
    const { value, grads: g } = tf.valueAndGrads((a: Tensor, b: Tensor) => loss(a, b) as ReturnType<TfCore["scalar"]>)([
      kq,
      pv
    ])
    grads.kq.set(g[0]!.dataSync())
    grads.pv.set(g[1]!.dataSync())
    return value.dataSync()[0]!
  })
