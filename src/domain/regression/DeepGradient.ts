/**
 * The fused engine for K-layer regression models: loss and analytic gradient through every layer, in float64, one task
 * at a time (the readable reference; DeepKernel generates the fast form of the same arithmetic and is tested against
 * this one).
 *
 * Notation (regression/Model has the model): Z_l [N = n + 1, D = d + 1] are the tokens entering layer l (context rows
 * 0…n−1, the query row n), c_i = Z_l[i] the keys, A, P the layer's weights. Layer l computes, for every row j,
 *   S_ji = c_iᵀ A Z_j,   W_ji = h(S_ji)/n or softmax_i(S_j·),   V_i = P c_i,   Z_{l+1, j} = Z_j + Σ_i W_ji V_i
 * and the prediction is ŷ = −Z_K[n, d]. Given G = ∂L/∂Z_{l+1} (reverse mode, layer by layer):
 *   ∂L/∂W_ji = G_j·V_i,   ∂L/∂S_ji from the activation (linear: /n; ReLU: /n where S > 0; exp: ·W;
 *   softmax: W_ji (∂L/∂W_ji − Σ_k W_jk ∂L/∂W_jk)),   ∂L/∂V_i = Σ_j W_ji G_j,   R_i = Σ_j ∂L/∂S_ji Z_j,
 *   ∂L/∂P += Σ_i ∂L/∂V_i c_iᵀ,   ∂L/∂A += Σ_i c_i R_iᵀ,
 *   ∂L/∂Z_l = G + [Σ_i ∂L/∂S_ji Aᵀc_i]_j + [A R_i + Pᵀ ∂L/∂V_i]_{i < n}     (query side, key and value sides).
 * Two layers are cheaper: the last one is only needed at the query and only P's label row reaches ŷ (the one-layer
 * kernel's arithmetic, O(n D + D²)), and the first needs no ∂L/∂Z_0. A middle layer costs about 12 n D² multiply-adds
 * per task against 4 n D² for its forward pass.
 *
 * A recurrent model's layers share one (A, P): their gradients add up in the same place.
 */
import { layerOffset, type RegressionSpec } from "./Model.js"
import type { RegressionBatch } from "./Task.js"

/** A loss-and-gradient function for tasks with n context points; `grads` is laid out like the parameter vector. */
export type RegressionKernel = (params: Float64Array, batch: RegressionBatch, grads: Float64Array) => number

/** d(loss)/d(score) from d(loss)/d(weight) for one row of weights, in place: `gw` becomes ∂L/∂S. */
const scoreGradient = (activation: RegressionSpec["activation"], n: number, w: Float64Array, wOffset: number, gw: Float64Array) => {
  switch (activation) {
    case "linear":
      for (let i = 0; i < n; i++) gw[i]! /= n
      return
    case "relu":
      for (let i = 0; i < n; i++) gw[i] = w[wOffset + i]! > 0 ? gw[i]! / n : 0
      return
    case "exp":
      for (let i = 0; i < n; i++) gw[i]! *= w[wOffset + i]!
      return
    case "softmax": {
      let dot = 0
      for (let i = 0; i < n; i++) dot += w[wOffset + i]! * gw[i]!
      for (let i = 0; i < n; i++) gw[i] = w[wOffset + i]! * (gw[i]! - dot)
      return
    }
  }
}

/** The weights of one row of scores, in place (h(s)/n, or softmax). */
const activate = (activation: RegressionSpec["activation"], n: number, w: Float64Array, offset: number) => {
  switch (activation) {
    case "linear":
      for (let i = 0; i < n; i++) w[offset + i]! /= n
      return
    case "relu":
      for (let i = 0; i < n; i++) w[offset + i] = w[offset + i]! > 0 ? w[offset + i]! / n : 0
      return
    case "exp":
      for (let i = 0; i < n; i++) w[offset + i] = Math.exp(w[offset + i]!) / n
      return
    case "softmax": {
      let largest = -Infinity
      for (let i = 0; i < n; i++) if (w[offset + i]! > largest) largest = w[offset + i]!
      let total = 0
      for (let i = 0; i < n; i++) {
        w[offset + i] = Math.exp(w[offset + i]! - largest)
        total += w[offset + i]!
      }
      for (let i = 0; i < n; i++) w[offset + i]! /= total
      return
    }
  }
}

/** The K-layer loss and gradient, written for clarity: the reference for DeepKernel and its tests. */
export const makeDeepGradient = (spec: RegressionSpec, n: number): RegressionKernel => {
  const { d, depth: K, activation } = spec
  const D = d + 1
  const N = n + 1
  const DD = D * D
  // Per layer l < K − 1: the tokens entering it, Aᵀ c_i, P c_i and the weights W (all rows).
  const tokens = new Float64Array(K * N * D)
  const keyed = new Float64Array(K * n * D)
  const valued = new Float64Array(K * n * D)
  const weights = new Float64Array(K * N * n)
  // The last layer: A z_q, the label row of P applied to each key, and the query's weights.
  const az = new Float64Array(D)
  const lastValues = new Float64Array(n)
  const g = new Float64Array(N * D)
  const gNext = new Float64Array(N * D)
  const gw = new Float64Array(n)
  const gv = new Float64Array(n * D)
  const r = new Float64Array(n * D)

  return (params, batch, grads) => {
    grads.fill(0)
    const B = batch.size
    let lossSum = 0
    for (let t = 0; t < B; t++) {
      // Z_0: the task's tokens.
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < d; k++) tokens[i * D + k] = batch.x[(t * n + i) * d + k]!
        tokens[i * D + d] = batch.y[t * n + i]!
      }
      for (let k = 0; k < d; k++) tokens[n * D + k] = batch.query[t * d + k]!
      tokens[n * D + d] = 0

      // Forward through the layers before the last.
      for (let l = 0; l < K - 1; l++) {
        const a = layerOffset(spec, l)
        const p = a + DD
        const z = l * N * D
        const zNext = z + N * D
        const kb = l * n * D
        const wb = l * N * n
        for (let i = 0; i < n; i++) {
          for (let row = 0; row < D; row++) {
            let ka = 0
            let vp = 0
            for (let c = 0; c < D; c++) {
              ka += params[a + c * D + row]! * tokens[z + i * D + c]!
              vp += params[p + row * D + c]! * tokens[z + i * D + c]!
            }
            keyed[kb + i * D + row] = ka
            valued[kb + i * D + row] = vp
          }
        }
        for (let j = 0; j < N; j++) {
          for (let i = 0; i < n; i++) {
            let s = 0
            for (let c = 0; c < D; c++) s += keyed[kb + i * D + c]! * tokens[z + j * D + c]!
            weights[wb + j * n + i] = s
          }
          activate(activation, n, weights, wb + j * n)
          for (let c = 0; c < D; c++) {
            let u = 0
            for (let i = 0; i < n; i++) u += weights[wb + j * n + i]! * valued[kb + i * D + c]!
            tokens[zNext + j * D + c] = tokens[z + j * D + c]! + u
          }
        }
      }

      // The last layer, at the query only: ŷ = −(z_q[d] + Σ_i W_qi (P_d·c_i)).
      const aL = layerOffset(spec, K - 1)
      const pRow = aL + DD + d * D
      const zL = (K - 1) * N * D
      const q = zL + n * D
      for (let row = 0; row < D; row++) {
        let v = 0
        for (let c = 0; c < D; c++) v += params[aL + row * D + c]! * tokens[q + c]!
        az[row] = v
      }
      const wl = (K - 1) * N * n
      for (let i = 0; i < n; i++) {
        let s = 0
        let v = 0
        for (let c = 0; c < D; c++) {
          s += tokens[zL + i * D + c]! * az[c]!
          v += params[pRow + c]! * tokens[zL + i * D + c]!
        }
        weights[wl + i] = s
        lastValues[i] = v
      }
      activate(activation, n, weights, wl)
      let update = 0
      for (let i = 0; i < n; i++) update += weights[wl + i]! * lastValues[i]!
      const prediction = -(tokens[q + d]! + update)
      const error = prediction - batch.target[t]!
      lossSum += error * error
      // ∂L/∂Z_K[n, d] = −(ŷ − y)/B.
      const gOut = -error / B

      // Backward through the last layer.
      for (let i = 0; i < n; i++) gw[i] = gOut * lastValues[i]!
      scoreGradient(activation, n, weights, wl, gw)
      // ∂L/∂A += (Σ_i ∂L/∂S_qi c_i) z_qᵀ;  ∂L/∂P_d· += Σ_i W_qi gOut c_i.
      for (let c = 0; c < D; c++) {
        let pull = 0
        let push = 0
        for (let i = 0; i < n; i++) {
          pull += gw[i]! * tokens[zL + i * D + c]!
          push += weights[wl + i]! * tokens[zL + i * D + c]!
        }
        r[c] = pull
        grads[pRow + c]! += gOut * push
      }
      for (let row = 0; row < D; row++) {
        for (let c = 0; c < D; c++) grads[aL + row * D + c]! += r[row]! * tokens[q + c]!
      }
      if (K === 1) continue
      // ∂L/∂Z_{K−1}: the query row gets the residual and Aᵀ(Σ_i ∂L/∂S_qi c_i); key i gets ∂L/∂S_qi A z_q + W_qi gOut P_d·.
      g.fill(0)
      for (let c = 0; c < D; c++) {
        let v = 0
        for (let row = 0; row < D; row++) v += params[aL + row * D + c]! * r[row]!
        g[n * D + c] = v
      }
      g[n * D + d]! += gOut
      for (let i = 0; i < n; i++) {
        const value = weights[wl + i]! * gOut
        for (let c = 0; c < D; c++) g[i * D + c] = gw[i]! * az[c]! + value * params[pRow + c]!
      }

      // Backward through the layers before the last.
      for (let l = K - 2; l >= 0; l--) {
        const a = layerOffset(spec, l)
        const p = a + DD
        const z = l * N * D
        const kb = l * n * D
        const wb = l * N * n
        gv.fill(0)
        r.fill(0)
        if (l > 0) gNext.set(g)
        for (let j = 0; j < N; j++) {
          // ∂L/∂W_j· and ∂L/∂V_i += W_ji G_j.
          for (let i = 0; i < n; i++) {
            let s = 0
            for (let c = 0; c < D; c++) {
              s += g[j * D + c]! * valued[kb + i * D + c]!
              gv[i * D + c]! += weights[wb + j * n + i]! * g[j * D + c]!
            }
            gw[i] = s
          }
          scoreGradient(activation, n, weights, wb + j * n, gw)
          for (let i = 0; i < n; i++) {
            const gs = gw[i]!
            for (let c = 0; c < D; c++) r[i * D + c]! += gs * tokens[z + j * D + c]!
          }
          if (l > 0) {
            for (let c = 0; c < D; c++) {
              let v = 0
              for (let i = 0; i < n; i++) v += gw[i]! * keyed[kb + i * D + c]!
              gNext[j * D + c]! += v
            }
          }
        }
        for (let row = 0; row < D; row++) {
          for (let c = 0; c < D; c++) {
            let ga = 0
            let gp = 0
            for (let i = 0; i < n; i++) {
              ga += tokens[z + i * D + row]! * r[i * D + c]!
              gp += gv[i * D + row]! * tokens[z + i * D + c]!
            }
            grads[a + row * D + c]! += ga
            grads[p + row * D + c]! += gp
          }
        }
        if (l === 0) break
        for (let i = 0; i < n; i++) {
          for (let row = 0; row < D; row++) {
            let v = 0
            for (let c = 0; c < D; c++) v += params[a + row * D + c]! * r[i * D + c]! + params[p + c * D + row]! * gv[i * D + c]!
            gNext[i * D + row]! += v
          }
        }
        g.set(gNext)
      }
    }
    return lossSum / (2 * B)
  }
}
