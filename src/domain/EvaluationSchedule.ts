/**
 * The steps at which a run is evaluated: step 0, a log-spaced start (training moves fastest early), then every
 * `every` steps, and always the last step.
 */
export const evaluationSteps = (steps: number, every: number, logSpacedPoints: number): Array<number> => {
  const points = new Set<number>([0, steps])
  const firstPeriodic = Math.min(every, steps)
  for (let i = 0; i < logSpacedPoints; i++) {
    const step = Math.round(Math.exp((Math.log(firstPeriodic) * i) / Math.max(1, logSpacedPoints)))
    if (step >= 1 && step < firstPeriodic) points.add(step)
  }
  for (let step = every; step <= steps; step += every) points.add(step)
  return [...points].sort((a, b) => a - b)
}
