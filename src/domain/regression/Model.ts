/**
 * K layers of single-head self-attention over regression tokens, in float64: the model of von Oswald et al. (linear
 * activation) and Cheng et al. (linear, ReLU, exp or softmax activation).
 *
 * Tokens are e_i = [x_i; y_i] (context) and e_q = [x_q; 0] (query), D = d + 1. Layer l, with key-query matrix A_l and
 * projection-value matrix P_l (both D × D, the products W_Kᵀ W_Q and P W_V), updates every token j at once from the
 * context tokens c_i of that layer (the query is never a key, the mask of Cheng et al.):
 *   e_j ← e_j + (1/n) Σ_i P_l c_i h(c_iᵀ A_l e_j)          h = identity, relu or exp
 *   e_j ← e_j + Σ_i P_l c_i softmax_i(c_iᵀ A_l e_j)          softmax
 * The prediction is ŷ = −(the y slot of the query token after K layers): with P_yy = −η, the first layer writes
 * −η/n Σ y_i x_i·x_q there, one GD step's prediction with the sign flipped (the papers' read-out convention).
 * A recurrent model applies one layer's weights K times.
 *
 * With an embedding (von Oswald et al.'s "deep data representations"), a learned MLP maps every input to features
 * first, z = W_L act(… act(W_1 x + b_1) …) + b_L ∈ R^p, and the tokens are [z_i; y_i] and [z_q; 0] (D = p + 1): the
 * attention layers see the MLP's features instead of x.
 *
 * Parameters are one flat vector: for each distinct layer, A then P, row-major; then, with an embedding, each MLP
 * layer's W (out × in, row-major) and b.
 */
import type { RegressionActivation } from "./Config.js"
import type { RegressionBatch } from "./Task.js"

/** A learned MLP embedding of the inputs: x ∈ R^inputs → hidden layers with `activation` → R^d (linear output). */
export interface EmbeddingSpec {
  /** The raw input dimension. */
  readonly inputs: number
  /** The widths of the hidden layers. */
  readonly hidden: ReadonlyArray<number>
  readonly activation: "tanh" | "relu"
}

export interface RegressionSpec {
  readonly activation: RegressionActivation
  /** The dimension of the tokens' input part: the raw input's, or the embedding's output. */
  readonly d: number
  /** K, the number of layers applied. */
  readonly depth: number
  readonly recurrent: boolean
  /** Which weights are trained (RegressionConfig's model.form); absent means "full". */
  readonly form?: "full" | "kernel"
  /** A learned MLP before the attention layers; absent or null: the tokens carry x itself. */
  readonly embedding?: EmbeddingSpec | null
}

export const tokenDim = (spec: Pick<RegressionSpec, "d">): number => spec.d + 1
export const distinctLayers = (spec: Pick<RegressionSpec, "depth" | "recurrent">): number => (spec.recurrent ? 1 : spec.depth)
/** The dimension of a task's inputs x. */
export const inputDim = (spec: Pick<RegressionSpec, "d" | "embedding">): number => spec.embedding?.inputs ?? spec.d
export const attentionParameterCount = (spec: Pick<RegressionSpec, "d" | "depth" | "recurrent">): number =>
  distinctLayers(spec) * 2 * tokenDim(spec) ** 2

/** One MLP layer's place in the parameter vector: W [out, in] at `weights`, b [out] at `bias`. */
export interface EmbeddingLayer {
  readonly inputs: number
  readonly outputs: number
  readonly weights: number
  readonly bias: number
}

/** The embedding's layers in order (empty without one); the last maps to the tokens' d features. */
export const embeddingLayers = (spec: RegressionSpec): Array<EmbeddingLayer> => {
  if (spec.embedding === undefined || spec.embedding === null) return []
  const widths = [spec.embedding.inputs, ...spec.embedding.hidden, spec.d]
  let offset = attentionParameterCount(spec)
  return widths.slice(1).map((outputs, l) => {
    const inputs = widths[l]!
    const layer = { inputs, outputs, weights: offset, bias: offset + outputs * inputs }
    offset += outputs * (inputs + 1)
    return layer
  })
}

export const parameterCount = (spec: RegressionSpec): number =>
  attentionParameterCount(spec) + embeddingLayers(spec).reduce((sum, l) => sum + l.outputs * (l.inputs + 1), 0)
/** Offset of layer k's A in the parameter vector (P follows at + D²). */
export const layerOffset = (spec: RegressionSpec, k: number): number => (spec.recurrent ? 0 : k) * 2 * tokenDim(spec) ** 2

/**
 * 1 for a trained weight, 0 for one that the form keeps at zero: under "kernel", A's input block and P's label entry
 * (an embedding is trained whole). Null when every weight is trained.
 */
export const trainableMask = (spec: RegressionSpec): Float64Array | null => {
  if (spec.form !== "kernel") return null
  const D = tokenDim(spec)
  const { d } = spec
  const mask = new Float64Array(parameterCount(spec))
  mask.fill(1, attentionParameterCount(spec))
  for (let l = 0; l < distinctLayers(spec); l++) {
    const base = l * 2 * D * D
    for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) mask[base + r * D + c] = 1
    mask[base + D * D + d * D + d] = 1
  }
  return mask
}

/**
 * The embedding's forward pass for one input, optionally with its Jacobian ∂z/∂x ([d, inputs], row-major) by forward
 * mode. Buffers are preallocated per embedder.
 */
export const makeEmbedder = (spec: RegressionSpec) => {
  const layers = embeddingLayers(spec)
  const dIn = inputDim(spec)
  const widest = Math.max(dIn, ...layers.map((l) => l.outputs))
  let current = new Float64Array(widest)
  let next = new Float64Array(widest)
  let jac = new Float64Array(widest * dIn)
  let jacNext = new Float64Array(widest * dIn)
  const relu = spec.embedding?.activation === "relu"
  return (values: Float64Array, source: Float64Array, offset: number, out: Float64Array, outOffset: number, jacobian?: Float64Array): void => {
    for (let k = 0; k < dIn; k++) current[k] = source[offset + k]!
    if (jacobian !== undefined) {
      jac.fill(0, 0, dIn * dIn)
      for (let k = 0; k < dIn; k++) jac[k * dIn + k] = 1
    }
    layers.forEach((layer, l) => {
      const last = l === layers.length - 1
      for (let o = 0; o < layer.outputs; o++) {
        let u = values[layer.bias + o]!
        for (let i = 0; i < layer.inputs; i++) u += values[layer.weights + o * layer.inputs + i]! * current[i]!
        const h = last ? u : relu ? (u > 0 ? u : 0) : Math.tanh(u)
        next[o] = h
        if (jacobian !== undefined) {
          const slope = last ? 1 : relu ? (u > 0 ? 1 : 0) : 1 - h * h
          for (let c = 0; c < dIn; c++) {
            let v = 0
            for (let i = 0; i < layer.inputs; i++) v += values[layer.weights + o * layer.inputs + i]! * jac[i * dIn + c]!
            jacNext[o * dIn + c] = slope * v
          }
        }
      }
      ;[current, next] = [next, current]
      if (jacobian !== undefined) [jac, jacNext] = [jacNext, jac]
    })
    for (let k = 0; k < spec.d; k++) out[outOffset + k] = current[k]!
    if (jacobian !== undefined) jacobian.set(jac.subarray(0, spec.d * dIn))
  }
}

/** The inputs of a batch mapped through the embedding (context and query), as a batch with d = the features'. */
export const embedBatch = (spec: RegressionSpec, values: Float64Array, batch: RegressionBatch): RegressionBatch => {
  const embed = makeEmbedder(spec)
  const { n, size } = batch
  const dIn = inputDim(spec)
  const p = spec.d
  const out: RegressionBatch = {
    size,
    n,
    d: p,
    x: new Float64Array(size * n * p),
    y: batch.y,
    query: new Float64Array(size * p),
    target: batch.target
  }
  for (let i = 0; i < size * n; i++) embed(values, batch.x, i * dIn, out.x, i * p)
  for (let t = 0; t < size; t++) embed(values, batch.query, t * dIn, out.query, t * p)
  return out
}

/** Predictions ŷ and, optionally, sensitivities ∂ŷ/∂x_q ([B, inputs]) for every task of a batch. */
export interface Predictions {
  readonly prediction: Float64Array
  readonly sensitivity: Float64Array
}

/**
 * A predictor for tasks with n context points: preallocated buffers, so evaluating a large set allocates nothing per
 * task. The query's Jacobian ∂e_q/∂x_q is carried forward through the layers (context tokens never depend on x_q).
 */
export const makePredictor = (spec: RegressionSpec, n: number) => {
  const { d, depth, activation } = spec
  const D = d + 1
  const N = n + 1
  const dIn = inputDim(spec)
  const embedded = (spec.embedding ?? null) !== null
  const embed = makeEmbedder(spec)
  const queryJacobian = new Float64Array(d * dIn)
  const tokens = new Float64Array(N * D)
  const update = new Float64Array(N * D)
  const projected = new Float64Array(n * D) // P c_i
  const keyed = new Float64Array(n * D) // Aᵀ c_i
  const weights = new Float64Array(n)
  const slopes = new Float64Array(n)
  const jacobian = new Float64Array(D * dIn) // ∂(query token)/∂x_q
  const jacobianStep = new Float64Array(D * dIn)
  const keyedJ = new Float64Array(n * dIn) // (Aᵀ c_i)ᵀ J

  /** ŷ of task t; writes ∂ŷ/∂x_q into sensitivity[sOffset…] when given. */
  return (values: Float64Array, batch: RegressionBatch, t: number, sensitivity?: Float64Array, sOffset = 0): number => {
    const withSensitivity = sensitivity !== undefined
    for (let i = 0; i < n; i++) {
      if (embedded) embed(values, batch.x, (t * n + i) * dIn, tokens, i * D)
      else for (let k = 0; k < d; k++) tokens[i * D + k] = batch.x[(t * n + i) * d + k]!
      tokens[i * D + d] = batch.y[t * n + i]!
    }
    if (embedded) embed(values, batch.query, t * dIn, tokens, n * D, withSensitivity ? queryJacobian : undefined)
    else for (let k = 0; k < d; k++) tokens[n * D + k] = batch.query[t * d + k]!
    tokens[n * D + d] = 0
    if (withSensitivity) {
      jacobian.fill(0)
      if (embedded) jacobian.set(queryJacobian)
      else for (let k = 0; k < d; k++) jacobian[k * d + k] = 1
    }
    for (let layer = 0; layer < depth; layer++) {
      const base = layerOffset(spec, layer)
      const a = base
      const p = base + D * D
      for (let i = 0; i < n; i++) {
        for (let r = 0; r < D; r++) {
          let pv = 0
          let kq = 0
          for (let c = 0; c < D; c++) {
            pv += values[p + r * D + c]! * tokens[i * D + c]!
            kq += tokens[i * D + c]! * values[a + c * D + r]!
          }
          projected[i * D + r] = pv
          keyed[i * D + r] = kq
        }
      }
      // After the last layer only the query token is read, so the context tokens are not updated there.
      const firstToken = layer === depth - 1 ? n : 0
      for (let j = firstToken; j < N; j++) {
        let largest = -Infinity
        for (let i = 0; i < n; i++) {
          let s = 0
          for (let b = 0; b < D; b++) s += keyed[i * D + b]! * tokens[j * D + b]!
          weights[i] = s
          if (s > largest) largest = s
        }
        switch (activation) {
          case "linear":
            for (let i = 0; i < n; i++) {
              weights[i]! /= n
              slopes[i] = 1 / n
            }
            break
          case "relu":
            for (let i = 0; i < n; i++) {
              const positive = weights[i]! > 0
              weights[i] = positive ? weights[i]! / n : 0
              slopes[i] = positive ? 1 / n : 0
            }
            break
          case "exp":
            for (let i = 0; i < n; i++) {
              weights[i] = Math.exp(weights[i]!) / n
              slopes[i] = weights[i]!
            }
            break
          case "softmax": {
            let total = 0
            for (let i = 0; i < n; i++) {
              weights[i] = Math.exp(weights[i]! - largest)
              total += weights[i]!
            }
            for (let i = 0; i < n; i++) weights[i]! /= total
            break
          }
        }
        for (let r = 0; r < D; r++) {
          let u = 0
          for (let i = 0; i < n; i++) u += weights[i]! * projected[i * D + r]!
          update[j * D + r] = u
        }
      }
      if (withSensitivity) {
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < dIn; c++) {
            let v = 0
            for (let b = 0; b < D; b++) v += keyed[i * D + b]! * jacobian[b * dIn + c]!
            keyedJ[i * dIn + c] = v
          }
        }
        jacobianStep.fill(0)
        for (let i = 0; i < n; i++) {
          for (let r = 0; r < D; r++) {
            // ∂(Σ_i w_i v_i)/∂s_i: h'(s_i)/n · v_i, or for softmax w_i (v_i − Σ_k w_k v_k).
            const coefficient =
              activation === "softmax"
                ? weights[i]! * (projected[i * D + r]! - update[n * D + r]!)
                : slopes[i]! * projected[i * D + r]!
            if (coefficient === 0) continue
            for (let c = 0; c < dIn; c++) jacobianStep[r * dIn + c]! += coefficient * keyedJ[i * dIn + c]!
          }
        }
        for (let e = 0; e < D * dIn; e++) jacobian[e]! += jacobianStep[e]!
      }
      for (let e = firstToken * D; e < N * D; e++) tokens[e]! += update[e]!
    }
    if (withSensitivity) for (let c = 0; c < dIn; c++) sensitivity![sOffset + c] = -jacobian[d * dIn + c]!
    return -tokens[n * D + d]!
  }
}

/** Predictions (and sensitivities) of the model with parameters `values` on every task of a batch. */
export const predictBatch = (spec: RegressionSpec, values: Float64Array, batch: RegressionBatch, withSensitivity = true): Predictions => {
  const predict = makePredictor(spec, batch.n)
  const prediction = new Float64Array(batch.size)
  const dIn = inputDim(spec)
  const sensitivity = new Float64Array(withSensitivity ? batch.size * dIn : 0)
  for (let t = 0; t < batch.size; t++) {
    prediction[t] = withSensitivity ? predict(values, batch, t, sensitivity, t * dIn) : predict(values, batch, t)
  }
  return { prediction, sensitivity }
}

/** ½ mean (ŷ − y)²: the training loss of von Oswald et al. */
export const squaredLoss = (prediction: Float64Array, target: Float64Array): number => {
  let sum = 0
  for (let t = 0; t < prediction.length; t++) sum += (prediction[t]! - target[t]!) ** 2
  return sum / (2 * prediction.length)
}

/** One GD-style layer: A = s [[I, 0], [0, 0]], P = [[−γ I, 0], [0, −η]]. */
export interface StepParameters {
  /** Kernel scale s: the attention score of x_i and x_j is s x_i·x_j. */
  readonly scale: number
  /** Step size η. */
  readonly eta: number
  /** GD++'s input transformation x ← (I − γ Σ̂) x, Σ̂ = (1/n) Σ x_i x_iᵀ (0 for plain GD). */
  readonly gamma: number
}

/**
 * The weights with which the model computes K steps of (functional) GD from f = 0 on the in-context squared loss:
 * step k with kernel h(s_k x·x') and step size η_k (one entry per distinct layer; a recurrent spec takes one).
 */
export const constructedWeights = (spec: RegressionSpec, steps: ReadonlyArray<StepParameters>): Float64Array => {
  const D = tokenDim(spec)
  const { d } = spec
  const values = new Float64Array(parameterCount(spec))
  for (let l = 0; l < distinctLayers(spec); l++) {
    const step = steps[Math.min(l, steps.length - 1)]!
    const base = l * 2 * D * D
    for (let k = 0; k < d; k++) {
      values[base + k * D + k] = step.scale
      values[base + D * D + k * D + k] = -step.gamma
    }
    values[base + D * D + d * D + d] = -step.eta
  }
  return values
}

/** s = tr(A_xx)/d of a distinct layer: the kernel scale that layer's attention scores carry. */
const layerScale = (spec: RegressionSpec, values: Float64Array, layer: number): number => {
  const D = tokenDim(spec)
  const base = layer * 2 * D * D
  let trace = 0
  for (let k = 0; k < spec.d; k++) trace += values[base + k * D + k]!
  return trace / spec.d
}

/**
 * The GD parameters read off each distinct layer: s = tr(A_xx)/d, η = −P_yy, γ = −tr(P_xx)/d, the least-squares fit of
 * the layer to the construction's form. For linear and ReLU attention only s·η matters: `effectiveEta` is that product
 * (the η of plain GD for linear attention).
 */
export const extractSteps = (spec: RegressionSpec, values: Float64Array): Array<StepParameters & { readonly effectiveEta: number }> => {
  const D = tokenDim(spec)
  const { d } = spec
  return Array.from({ length: distinctLayers(spec) }, (_, l) => {
    const base = l * 2 * D * D
    let traceP = 0
    for (let k = 0; k < d; k++) traceP += values[base + D * D + k * D + k]!
    const scale = layerScale(spec, values, l)
    const eta = -values[base + D * D + d * D + d]!
    return { scale, eta, gamma: -traceP / d, effectiveEta: scale * eta }
  })
}

/**
 * How far a layer is from the construction's form: the norm of everything the construction sets to zero or to a
 * multiple of I (A_xx − s I, A_xy, A_yx, A_yy, P_yx, P_xy), relative to the norm of the layer's A and P.
 */
export const offConstructionNorm = (spec: RegressionSpec, values: Float64Array, layer: number): number => {
  const D = tokenDim(spec)
  const { d } = spec
  const base = layer * 2 * D * D
  const scale = layerScale(spec, values, layer)
  let off = 0
  let total = 0
  for (let r = 0; r < D; r++) {
    for (let c = 0; c < D; c++) {
      const a = values[base + r * D + c]!
      const p = values[base + D * D + r * D + c]!
      total += a * a + p * p
      const aForm = r < d && c < d ? (r === c ? scale : 0) : 0
      const pOff = (r < d) !== (c < d) ? p : 0
      off += (a - aForm) ** 2 + pOff * pOff
    }
  }
  return total === 0 ? 0 : Math.sqrt(off / total)
}
