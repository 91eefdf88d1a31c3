import { assert, describe, it } from "@effect/vitest"
import { clippedCholesky, gramOf, posteriorWeights } from "../../../src/domain/regression/GaussianProcess.js"
import {
  explicitGdPrediction,
  fitKernelGd,
  kernelGdPredictions,
  kernelTables,
  posteriorMean
} from "../../../src/domain/regression/KernelGd.js"
import { type RegressionActivation, type RegressionTaskConfig, regressionDefaults } from "../../../src/domain/regression/Config.js"
import { makeOneLayerKernel } from "../../../src/domain/regression/FusedKernel.js"
import {
  constructedWeights,
  extractSteps,
  makePredictor,
  offConstructionNorm,
  predictBatch,
  type RegressionSpec,
  squaredLoss
} from "../../../src/domain/regression/Model.js"
import { type RegressionBatch, sampleRegressionTasks } from "../../../src/domain/regression/Task.js"
import { keyedRng } from "../../../src/domain/Rng.js"
import { initRegressionWeights } from "../../../src/services/regression/Trainer.js"
import { centralDifferences, FINITE_DIFFERENCE, FLOAT64_IDENTITY, maxAbsDiff, relativeError } from "../../helpers.js"

const ACTIVATIONS: ReadonlyArray<RegressionActivation> = ["linear", "relu", "exp", "softmax"]

const linearTask = (overrides: Partial<RegressionTaskConfig> = {}): RegressionTaskConfig => ({
  ...regressionDefaults.task,
  inputs: "cube",
  d: 4,
  n: 9,
  ...overrides
})
const gpTask = (kernel: RegressionTaskConfig["kernel"], overrides: Partial<RegressionTaskConfig> = {}): RegressionTaskConfig => ({
  ...regressionDefaults.task,
  family: "gp",
  inputs: "sphere",
  kernel,
  d: 3,
  n: 12,
  ...overrides
})

const spec = (activation: RegressionActivation, d: number, depth = 1, recurrent = false): RegressionSpec => ({
  activation,
  d,
  depth,
  recurrent
})

/** Random weights of moderate size, so that every activation is exercised away from its kinks and saturation. */
const randomWeights = (s: RegressionSpec, seed: number, scale = 0.4) => initRegressionWeights(s, seed, scale)

const lossOf = (s: RegressionSpec, values: Float64Array, batch: RegressionBatch) =>
  squaredLoss(predictBatch(s, values, batch, false).prediction, batch.target)

describe("regression tasks", () => {
  it("a task depends only on its own index, not on how the set is split", () => {
    for (const task of [linearTask(), gpTask("exp"), gpTask("relu"), linearTask({ noise: 0.3 })]) {
      const whole = sampleRegressionTasks(task, 5, "train", 3, 8)
      const tail = sampleRegressionTasks(task, 5, "train", 3, 4, 4)
      assert.deepStrictEqual(Array.from(whole.y.subarray(4 * task.n)), Array.from(tail.y))
      assert.deepStrictEqual(Array.from(whole.target.subarray(4)), Array.from(tail.target))
      assert.deepStrictEqual(Array.from(whole.x.subarray(4 * task.n * task.d)), Array.from(tail.x))
    }
  })

  it("inputs lie in the cube or on the sphere, as configured", () => {
    const cube = sampleRegressionTasks(linearTask(), 1, "evaluation", 0, 50)
    assert.isTrue(cube.x.every((v) => v >= -1 && v < 1))
    const sphere = sampleRegressionTasks(gpTask("exp", { d: 4 }), 1, "evaluation", 0, 50)
    for (let i = 0; i < 50 * 12; i++) {
      let norm = 0
      for (let k = 0; k < 4; k++) norm += sphere.x[i * 4 + k]! ** 2
      assert.approximately(norm, 1, FLOAT64_IDENTITY)
    }
  })

  it("labels of a linear task are w·x for one w per task (d + 1 points fix w and predict the rest)", () => {
    const task = linearTask({ d: 3, n: 8 })
    const batch = sampleRegressionTasks(task, 2, "evaluation", 0, 5)
    // With noise 0 the posterior mean under the linear kernel recovers w exactly from n ≥ d points.
    const bayes = posteriorMean("linear", 1, 0, batch)
    assert.isBelow(maxAbsDiff(bayes.prediction, batch.target), 1e-9)
  })

  it("GP draws have the kernel's variance κ(1) at the query, for every kernel (within 4 standard errors)", () => {
    // On the sphere Var f(x) = κ(x·x) = κ(1): 1 (linear, arc-cosine), e (exp), (1 + e)/2 (mixture). 4000 draws give a
    // standard error of κ(1)·√(2/4000). A covariance that is not PSD-consistent would blow this up.
    const expected = { linear: 1, relu: 1, exp: Math.E, mixture: (1 + Math.E) / 2 }
    for (const kernel of ["linear", "relu", "exp", "mixture"] as const) {
      const batch = sampleRegressionTasks(gpTask(kernel, { n: 20 }), 9, "evaluation", 0, 4000)
      let sum = 0
      for (let t = 0; t < 4000; t++) sum += batch.target[t]! ** 2
      assert.approximately(sum / 4000, expected[kernel], 4 * expected[kernel] * Math.sqrt(2 / 4000), kernel)
    }
  })
})

describe("the constructions are GD steps (float64)", () => {
  it("K layers with the GD construction compute K steps of GD on the in-context least squares, K = 1…4", () => {
    const batch = sampleRegressionTasks(linearTask(), 3, "evaluation", 0, 40)
    for (let K = 1; K <= 4; K++) {
      for (const recurrent of [false, true]) {
        const s = spec("linear", 4, K, recurrent)
        const predictions = predictBatch(s, constructedWeights(s, [{ scale: 1, eta: 0.8, gamma: 0 }]), batch).prediction
        const explicit = Array.from({ length: 40 }, (_, t) => explicitGdPrediction(batch, t, 0.8, K))
        assert.isBelow(maxAbsDiff(predictions, explicit), FLOAT64_IDENTITY, `K = ${K}, recurrent ${recurrent}`)
      }
    }
  })

  it("with a kernel activation the construction computes K steps of functional GD in that kernel's RKHS", () => {
    const batch = sampleRegressionTasks(gpTask("mixture"), 4, "evaluation", 0, 40)
    for (const activation of ACTIVATIONS) {
      for (const K of [1, 3]) {
        const s = spec(activation, 3, K)
        const predictions = predictBatch(s, constructedWeights(s, [{ scale: 1.7, eta: 0.6, gamma: 0 }]), batch).prediction
        const functional = kernelGdPredictions(kernelTables(activation, 1.7, batch), batch, 0.6, K)
        assert.isBelow(maxAbsDiff(predictions, functional), FLOAT64_IDENTITY, `${activation}, K = ${K}`)
      }
    }
  })

  it("the constructed weights read back as the steps they were built from, exactly in the construction's form", () => {
    const s = spec("exp", 4, 3)
    const steps = [
      { scale: 0.7, eta: 1.2, gamma: 0.1 },
      { scale: 1.1, eta: 0.4, gamma: 0 },
      { scale: 2, eta: 0.9, gamma: -0.2 }
    ]
    const values = constructedWeights(s, steps)
    const read = extractSteps(s, values)
    steps.forEach((step, l) => {
      assert.approximately(read[l]!.scale, step.scale, FLOAT64_IDENTITY)
      assert.approximately(read[l]!.eta, step.eta, FLOAT64_IDENTITY)
      assert.approximately(read[l]!.gamma, step.gamma, FLOAT64_IDENTITY)
      assert.strictEqual(offConstructionNorm(s, values, l), 0)
    })
  })

  it("GD++ with γ = 0 is GD, and one GD++ layer is one GD step whatever γ (the inputs change after the step)", () => {
    const batch = sampleRegressionTasks(linearTask(), 6, "evaluation", 0, 30)
    const one = spec("linear", 4, 1)
    const gd = predictBatch(one, constructedWeights(one, [{ scale: 1, eta: 0.9, gamma: 0 }]), batch).prediction
    const plusPlus = predictBatch(one, constructedWeights(one, [{ scale: 1, eta: 0.9, gamma: 0.3 }]), batch).prediction
    assert.isBelow(maxAbsDiff(gd, plusPlus), FLOAT64_IDENTITY)
    const two = spec("linear", 4, 2)
    const transformed = predictBatch(two, constructedWeights(two, [{ scale: 1, eta: 0.9, gamma: 0.3 }]), batch).prediction
    assert.isAbove(maxAbsDiff(gd, transformed), 1e-3, "with two layers the transformation changes the second step")
  })

  it("the grid-optimal one-step η is a minimum of the loss (closed form) and K-step η is refined to a minimum", () => {
    const batch = sampleRegressionTasks(linearTask(), 8, "grid", 0, 400)
    for (const K of [1, 3]) {
      const fit = fitKernelGd("linear", K, batch, regressionDefaults.references)
      const s = spec("linear", 4, K)
      const at = (eta: number) => lossOf(s, constructedWeights(s, [{ scale: 1, eta, gamma: 0 }]), batch)
      assert.approximately(at(fit.eta), fit.loss, FLOAT64_IDENTITY)
      // 1% either side costs more than the golden-section tolerance (about 1e-8 relative in η).
      assert.isBelow(fit.loss, at(fit.eta * 1.01))
      assert.isBelow(fit.loss, at(fit.eta * 0.99))
    }
  })
})

describe("gradients and sensitivities", () => {
  it("∂ŷ/∂x_q of the forward pass matches central differences for every activation, 2 layers", () => {
    const task = gpTask("exp")
    const batch = sampleRegressionTasks(task, 10, "evaluation", 0, 6)
    for (const activation of ACTIVATIONS) {
      const s = spec(activation, 3, 2)
      const values = randomWeights(s, 11)
      const { sensitivity } = predictBatch(s, values, batch)
      const predict = makePredictor(s, task.n)
      const numeric = Float64Array.from(batch.query.keys(), (i) =>
        centralDifferences(batch.query, () => predict(values, batch, Math.floor(i / 3)), [i])[0]!
      )
      assert.isBelow(relativeError(sensitivity, numeric), FINITE_DIFFERENCE, activation)
    }
  })

  it("the fused engine's gradients match central differences of the float64 loss for every activation", () => {
    const task = gpTask("relu")
    const batch = sampleRegressionTasks(task, 12, "train", 1, 16)
    for (const activation of ACTIVATIONS) {
      const s = spec(activation, 3, 1)
      const values = randomWeights(s, 13)
      const grads = new Float64Array(values.length)
      const loss = makeOneLayerKernel(s, task.n)(values, batch, grads)
      assert.approximately(loss, lossOf(s, values, batch), FLOAT64_IDENTITY)
      const numeric = centralDifferences(values, () => lossOf(s, values, batch))
      assert.isBelow(relativeError(grads, numeric), FINITE_DIFFERENCE, activation)
    }
  })
})

describe("Gaussian-process posterior", () => {
  it("without noise the posterior mean interpolates the context (a PD kernel)", () => {
    const task = gpTask("exp")
    const batch = sampleRegressionTasks(task, 14, "evaluation", 0, 3)
    // Put the query on a context point: the mean there must be that point's label.
    for (let t = 0; t < 3; t++) for (let k = 0; k < 3; k++) batch.query[t * 3 + k] = batch.x[(t * task.n + 5) * 3 + k]!
    const { prediction } = posteriorMean("exp", 1, 0, batch)
    for (let t = 0; t < 3; t++) assert.approximately(prediction[t]!, batch.y[t * task.n + 5]!, 1e-6)
  })

  it("its sensitivity matches central differences, with and without noise, for every kernel", () => {
    for (const kernel of ["linear", "relu", "exp", "mixture"] as const) {
      for (const noise of [0, 0.2]) {
        const task = gpTask(kernel, { noise })
        const batch = sampleRegressionTasks(task, 15, "evaluation", 0, 4)
        const { sensitivity } = posteriorMean(kernel, 1, noise, batch)
        const numeric = Float64Array.from(batch.query.keys(), (i) =>
          centralDifferences(batch.query, () => posteriorMean(kernel, 1, noise, batch).prediction[Math.floor(i / 3)]!, [i])[0]!
        )
        // Posterior weights reach ~1e3 for near-singular Gram matrices, so differences lose ~3 more digits.
        assert.isBelow(relativeError(sensitivity, numeric), 1e-4, `${kernel}, noise ${noise}`)
      }
    }
  })

  it("the clipped Cholesky factor reproduces a PSD Gram matrix and drops only the dependent pivots", () => {
    // The linear kernel on 6 points in 3 dimensions has rank 3.
    const rng = keyedRng(3, "evaluation", 0)
    const data = new Float64Array(18)
    rng.fillNormals(data, 0, 18)
    const gram = gramOf("linear", 1, data, 6, 3)
    const factor = gram.slice()
    const kept = clippedCholesky(factor, 6)
    assert.deepStrictEqual(kept, [0, 1, 2])
    const rebuilt = new Float64Array(36)
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) for (let k = 0; k < 6; k++) rebuilt[i * 6 + j]! += factor[i * 6 + k]! * factor[j * 6 + k]!
    assert.isBelow(maxAbsDiff(rebuilt, gram), 1e-9)
  })

  /** x solving A x = b by Gaussian elimination with partial pivoting (A is m × m, row-major; both are copied). */
  const solve = (matrix: Float64Array, rhs: ArrayLike<number>, m: number): Float64Array => {
    const a = matrix.slice()
    const x = Float64Array.from(rhs)
    for (let col = 0; col < m; col++) {
      let pivot = col
      for (let r = col + 1; r < m; r++) if (Math.abs(a[r * m + col]!) > Math.abs(a[pivot * m + col]!)) pivot = r
      for (let k = 0; k < m; k++) [a[col * m + k], a[pivot * m + k]] = [a[pivot * m + k]!, a[col * m + k]!]
      ;[x[col], x[pivot]] = [x[pivot]!, x[col]!]
      for (let r = col + 1; r < m; r++) {
        const f = a[r * m + col]! / a[col * m + col]!
        for (let k = col; k < m; k++) a[r * m + k]! -= f * a[col * m + k]!
        x[r]! -= f * x[col]!
      }
    }
    for (let r = m - 1; r >= 0; r--) {
      let v = x[r]!
      for (let k = r + 1; k < m; k++) v -= a[r * m + k]! * x[k]!
      x[r] = v / a[r * m + r]!
    }
    return x
  }

  it("posterior weights equal a direct solve of (K + σ²I) β = y, and of K_SS β_S = y_S on a rank-deficient kernel", () => {
    const rng = keyedRng(4, "evaluation", 0)
    const m = 7
    const d = 3
    const points = new Float64Array(m * d)
    rng.fillNormals(points, 0, m * d)
    const y = new Float64Array(m + 2)
    rng.fillNormals(y, 0, m + 2)
    // Full rank (exp kernel on distinct points): β = (K + σ²I)⁻¹ y, with and without noise; y read at an offset.
    const gram = gramOf("exp", 1, points, m, d)
    for (const noise of [0, 0.04]) {
      const factor = gram.slice()
      const kept = clippedCholesky(factor, m)
      assert.strictEqual(kept.length, m)
      const shifted = gram.slice()
      for (let i = 0; i < m; i++) shifted[i * m + i]! += noise
      const direct = solve(shifted, y.subarray(2, 2 + m), m)
      assert.isBelow(relativeError(posteriorWeights(factor, kept, m, y, 2, noise), direct), 1e-9, `exp kernel, σ² = ${noise}`)
    }
    // Rank 3 (linear kernel on 7 points in 3 dimensions), labels in its column space (y = X w): without noise the
    // weights live on the kept points and solve K_SS β_S = y_S, and K β reproduces every label.
    const linear = gramOf("linear", 1, points, m, d)
    const factor = linear.slice()
    const kept = clippedCholesky(factor, m)
    assert.deepStrictEqual(kept, [0, 1, 2])
    const w = [0.3, -1.2, 0.7]
    const labels = Float64Array.from({ length: m }, (_, i) => w.reduce((s, wk, k) => s + wk * points[i * d + k]!, 0))
    const beta = posteriorWeights(factor, kept, m, labels, 0, 0)
    const block = Float64Array.from({ length: 9 }, (_, i) => linear[kept[Math.floor(i / 3)]! * m + kept[i % 3]!]!)
    const direct = solve(block, kept.map((i) => labels[i]!), 3)
    assert.isBelow(maxAbsDiff(Array.from(kept, (i) => beta[i]!), direct), 1e-9)
    assert.deepStrictEqual(Array.from(beta.subarray(3)), [0, 0, 0, 0])
    const fitted = Float64Array.from({ length: m }, (_, i) => kept.reduce((s, j) => s + linear[i * m + j]! * beta[j]!, 0))
    assert.isBelow(maxAbsDiff(fitted, labels), 1e-9)
    // With noise, on the same rank-deficient kernel: the prediction k_qᵀ β at each point equals kᵀ (K + σ²I)⁻¹ y.
    const noisy = posteriorWeights(factor, kept, m, y, 0, 0.1)
    const shifted = linear.slice()
    for (let i = 0; i < m; i++) shifted[i * m + i]! += 0.1
    const alpha = solve(shifted, y.subarray(0, m), m)
    for (let q = 0; q < m; q++) {
      const row = linear.subarray(q * m, (q + 1) * m)
      const viaWeights = row.reduce((s, k, j) => s + k * noisy[j]!, 0)
      const viaSolve = row.reduce((s, k, j) => s + k * alpha[j]!, 0)
      assert.approximately(viaWeights, viaSolve, 1e-9, `point ${q}`)
    }
  })
})
