/**
 * The learning-rate schedule: the rate of optimizer step t (t = 1 … T, T = training.steps) as a pure function of t and
 * the config, so that a run resumed at any step continues on the same schedule. With peak rate η, warm-up length W
 * and u = t − W the step's position after warm-up (U = T − W such steps):
 *   warm-up (t ≤ W):  η · t / W                                   (linear, from η/W at step 1 to η at step W)
 *   constant:         η
 *   cosine:           η · (f + (1 − f) · ½ (1 + cos(π u / U)))    (η at the end of warm-up, f·η at step T;
 *                                                                  Loshchilov & Hutter 2017 without restarts)
 *   step:             η · γ^⌊(u − 1) / k⌋                           (γ = decayFactor, every k = decayEvery steps;
 *                                                                  torch.optim.lr_scheduler.StepLR)
 * f = minLearningRateFactor.
 */
import type { TrainingConfig } from "./ConfigSchema.js"

export type ScheduleOptions = Pick<
  TrainingConfig,
  "learningRate" | "schedule" | "warmupSteps" | "minLearningRateFactor" | "decayEvery" | "decayFactor" | "steps"
>

/** The learning rate of optimizer step `step` (1-based: the first step is 1). */
export const learningRateAt = (options: ScheduleOptions, step: number): number => {
  const { learningRate: peak, warmupSteps: warmup } = options
  if (step <= warmup) return (peak * step) / warmup
  const u = step - warmup
  switch (options.schedule) {
    case "constant":
      return peak
    case "cosine": {
      const span = options.steps - warmup
      const progress = Math.min(u / span, 1)
      const f = options.minLearningRateFactor
      return peak * (f + (1 - f) * 0.5 * (1 + Math.cos(Math.PI * progress)))
    }
    case "step":
      return peak * Math.pow(options.decayFactor, Math.floor((u - 1) / options.decayEvery))
  }
}
