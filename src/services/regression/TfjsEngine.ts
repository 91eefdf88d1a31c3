/**
 * The regression model (regression/Model) written with TensorFlow.js ops (float32) and differentiated by autodiff:
 * the training engine for every regression model, tested against the float64 forward pass and finite differences.
 * Tensors never leave this module: every call runs inside tf.tidy and returns plain numbers.
 */
import { type RegressionSpec, distinctLayers, embeddingLayers, inputDim, tokenDim } from "../../domain/regression/Model.js"
import type { RegressionBatch } from "../../domain/regression/Task.js"
import type { TfCore } from "../TfBackend.js"

type Tensor = ReturnType<TfCore["tensor"]>
type Tensor2D = ReturnType<TfCore["tensor2d"]>
type Tensor3D = ReturnType<TfCore["tensor3d"]>

/** The batch as tokens [B, n + 1, D] (context, then the query with a zero label slot) and targets [B]. */
const tokensOf = (batch: RegressionBatch) => {
  const { n, d, size: B } = batch
  const D = d + 1
  const tokens = new Float32Array(B * (n + 1) * D)
  for (let t = 0; t < B; t++) {
    for (let i = 0; i < n; i++) {
      const base = (t * (n + 1) + i) * D
      for (let k = 0; k < d; k++) tokens[base + k] = batch.x[(t * n + i) * d + k]!
      tokens[base + d] = batch.y[t * n + i]!
    }
    const base = (t * (n + 1) + n) * D
    for (let k = 0; k < d; k++) tokens[base + k] = batch.query[t * d + k]!
  }
  return tokens
}

/** The inputs [B·(n + 1), d] (each task's context, then its query) and labels [B, n + 1, 1] (the query's 0). */
const inputsOf = (batch: RegressionBatch) => {
  const { n, d, size: B } = batch
  const inputs = new Float32Array(B * (n + 1) * d)
  const labels = new Float32Array(B * (n + 1))
  for (let t = 0; t < B; t++) {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) inputs[(t * (n + 1) + i) * d + k] = batch.x[(t * n + i) * d + k]!
      labels[t * (n + 1) + i] = batch.y[t * n + i]!
    }
    for (let k = 0; k < d; k++) inputs[(t * (n + 1) + n) * d + k] = batch.query[t * d + k]!
  }
  return { inputs, labels }
}

/**
 * The predictions [B] of the model for parameter tensors [A_0, P_0, A_1, P_1, …] (one pair per distinct layer), then,
 * with an embedding, [W_1, b_1, W_2, b_2, …] of its MLP.
 */
export const predictionTensor = (tf: TfCore, spec: RegressionSpec, batch: RegressionBatch) => {
  const { n, size: B } = batch
  const D = tokenDim(spec)
  const N = n + 1
  const mlp = embeddingLayers(spec)
  const tokens = mlp.length === 0 ? tokensOf(batch) : null
  const raw = mlp.length === 0 ? null : inputsOf(batch)
  const relu = spec.embedding?.activation === "relu"
  const initialTokens = (params: ReadonlyArray<Tensor>): Tensor3D => {
    if (tokens !== null) return tf.tensor3d(tokens, [B, N, D]) as Tensor3D
    // z = W_L act(… act(W_1 x + b_1) …) + b_L for every token, then [z; y].
    let h: Tensor = tf.tensor2d(raw!.inputs, [B * N, inputDim(spec)])
    mlp.forEach((_, l) => {
      const w = params[2 * distinctLayers(spec) + 2 * l] as Tensor2D
      const b = params[2 * distinctLayers(spec) + 2 * l + 1]!
      const u = tf.add(tf.matMul(h as Tensor2D, w, false, true), b)
      h = l === mlp.length - 1 ? u : relu ? tf.relu(u) : tf.tanh(u)
    })
    return tf.concat([tf.reshape(h, [B, N, spec.d]), tf.tensor3d(raw!.labels, [B, N, 1])], 2) as Tensor3D
  }
  return (layers: ReadonlyArray<Tensor>): Tensor => {
    let state = initialTokens(layers)
    for (let k = 0; k < spec.depth; k++) {
      const l = spec.recurrent ? 0 : k
      const a = layers[2 * l] as Tensor2D
      const p = layers[2 * l + 1] as Tensor2D
      const context = tf.slice(state, [0, 0, 0], [B, n, D]) as Tensor3D
      // scores[b, j, i] = c_iᵀ A e_j = (A e_j)·c_i
      const keyed = tf.reshape(tf.matMul(tf.reshape(state, [B * N, D]) as Tensor2D, a, false, true), [B, N, D]) as Tensor3D
      const scores = tf.matMul(keyed, context, false, true)
      const weights =
        spec.activation === "softmax"
          ? tf.softmax(scores)
          : tf.div(spec.activation === "linear" ? scores : spec.activation === "relu" ? tf.relu(scores) : tf.exp(scores), n)
      const values = tf.reshape(tf.matMul(tf.reshape(context, [B * n, D]) as Tensor2D, p, false, true), [B, n, D]) as Tensor3D
      state = tf.add(state, tf.matMul(weights as Tensor3D, values)) as Tensor3D
    }
    return tf.neg(tf.reshape(tf.slice(state, [0, n, spec.d], [B, 1, 1]), [B]))
  }
}

/** ½ mean squared error of the predictions, as a scalar tensor of the layer weights. */
export const regressionLossTensor = (tf: TfCore, spec: RegressionSpec, batch: RegressionBatch) => {
  const predict = predictionTensor(tf, spec, batch)
  const target = Float32Array.from(batch.target)
  return (layers: ReadonlyArray<Tensor>): Tensor =>
    tf.mul(0.5, tf.mean(tf.square(tf.sub(predict(layers), tf.tensor1d(target)))))
}

/** Every parameter as a tensor, in predictionTensor's order; with each tensor's offset in the parameter vector. */
const layerTensors = (tf: TfCore, spec: RegressionSpec, values: Float64Array) => {
  const D = tokenDim(spec)
  const attention = Array.from({ length: 2 * distinctLayers(spec) }, (_, m) => ({
    offset: m * D * D,
    tensor: tf.tensor2d(Float32Array.from(values.subarray(m * D * D, (m + 1) * D * D)), [D, D]) as Tensor
  }))
  const embedding = embeddingLayers(spec).flatMap((layer) => [
    {
      offset: layer.weights,
      tensor: tf.tensor2d(Float32Array.from(values.subarray(layer.weights, layer.bias)), [layer.outputs, layer.inputs]) as Tensor
    },
    { offset: layer.bias, tensor: tf.tensor1d(Float32Array.from(values.subarray(layer.bias, layer.bias + layer.outputs))) as Tensor }
  ])
  return [...attention, ...embedding]
}

/** The loss and its gradient (written into `grads`, laid out like the parameter vector) by autodiff. */
export const regressionLossAndGradients = (
  tf: TfCore,
  spec: RegressionSpec,
  values: Float64Array,
  batch: RegressionBatch,
  grads: Float64Array
): number =>
  tf.tidy(() => {
    const loss = regressionLossTensor(tf, spec, batch)
    const parameters = layerTensors(tf, spec, values)
    const { value, grads: g } = tf.valueAndGrads((...layers: Array<Tensor>) => loss(layers) as ReturnType<TfCore["scalar"]>)(
      parameters.map((p) => p.tensor)
    )
    g.forEach((tensor, m) => grads.set(tensor.dataSync(), parameters[m]!.offset))
    return value.dataSync()[0]!
  })

/** The model's predictions in float32 (to test this engine against the float64 forward pass). */
export const tfjsPredictions = (tf: TfCore, spec: RegressionSpec, values: Float64Array, batch: RegressionBatch): Float64Array =>
  Float64Array.from(
    tf.tidy(() => predictionTensor(tf, spec, batch)(layerTensors(tf, spec, values).map((p) => p.tensor)).dataSync() as Float32Array)
  )

/**
 * GD++ (von Oswald et al.): K GD layers, each also transforming the inputs x ← (I − γ_k Σ̂) x. Its 2K parameters
 * (γ_k, η_k) are fitted by full-batch Adam on the grid-search set, starting from plain GD at step size `startEta`
 * (γ = 0), so the fit can only improve on K-step GD. Returns the parameters and the loss at the last iterate.
 */
export const fitGdPlusPlus = (
  tf: TfCore,
  spec: RegressionSpec,
  batch: RegressionBatch,
  startEta: number,
  iterations: number
): { readonly gammas: Array<number>; readonly etas: Array<number>; readonly loss: number } => {
  const K = spec.depth
  const D = tokenDim(spec)
  const unrolled: RegressionSpec = { ...spec, activation: "linear", recurrent: false }
  const params = new Float64Array(2 * K)
  for (let k = 0; k < K; k++) params[K + k] = startEta
  const m = new Float64Array(2 * K)
  const v = new Float64Array(2 * K)
  const xMask = new Float32Array(D * D)
  const yMask = new Float32Array(D * D)
  for (let r = 0; r < spec.d; r++) xMask[r * D + r] = 1
  yMask[D * D - 1] = 1
  const lossOf = (parameters: Tensor) =>
    tf.tidy(() => {
      const a = tf.tensor2d(xMask, [D, D])
      const layers: Array<Tensor> = []
      for (let k = 0; k < K; k++) {
        const gamma = tf.slice(parameters, [k], [1])
        const eta = tf.slice(parameters, [K + k], [1])
        layers.push(a, tf.neg(tf.add(tf.mul(tf.tensor2d(xMask, [D, D]), gamma), tf.mul(tf.tensor2d(yMask, [D, D]), eta))))
      }
      return regressionLossTensor(tf, unrolled, batch)(layers) as ReturnType<TfCore["scalar"]>
    })
  const rate = 0.01
  let loss = Number.NaN
  for (let step = 1; step <= iterations; step++) {
    let gradient = new Float64Array(2 * K)
    tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((p: Tensor) => lossOf(p))([tf.tensor1d(Float32Array.from(params))])
      loss = value.dataSync()[0]!
      gradient = Float64Array.from(grads[0]!.dataSync())
    })
    // Adam in log-free coordinates, with steps relative to each parameter's scale so η (order 1) and γ (order 0.1)
    // move alike.
    const c1 = 1 - Math.pow(0.9, step)
    const c2 = 1 - Math.pow(0.999, step)
    for (let i = 0; i < 2 * K; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * gradient[i]!
      v[i] = 0.999 * v[i]! + 0.001 * gradient[i]! ** 2
      params[i]! -= (rate * Math.max(Math.abs(params[i]!), 0.1) * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-12)
    }
  }
  return { gammas: Array.from(params.subarray(0, K)), etas: Array.from(params.subarray(K)), loss }
}
