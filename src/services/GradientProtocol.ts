/**
 * The shared memory through which the training thread and its gradient worker threads split a step's chunks (each
 * kind's fused engine has its worker body, GradientWorker, and the training thread's side, ParallelGradient). No
 * messages pass per step:
 *   control  Int32 words: CLAIM = (generation << 16) | next unclaimed chunk, DONE = chunks finished this step, STEP,
 *            STOP, FAILED.
 *   weights  the model's weights for the step (a kind's own layout).
 *   partials each chunk's gradient and loss (the kind's ChunkedGradient layout).
 * The training thread writes the step and the weights, then publishes a new generation in CLAIM; every thread claims
 * chunks by compare-and-swap on CLAIM, so a claim always belongs to the generation it read, and a thread reads the step
 * and the weights only after a successful claim, when they cannot change until its chunk is counted in DONE.
 */

const CLAIM = 0
const DONE = 1
const STEP = 2
const STOP = 3
const FAILED = 4
const CONTROL_WORDS = 5

const CHUNK_BITS = 16
const CHUNK_MASK = (1 << CHUNK_BITS) - 1
/** Generations wrap below 2^15 so that CLAIM stays a positive int32. */
const GENERATION_MASK = (1 << 15) - 1

/** The shared buffers a gradient worker is started with, besides what its kind needs to compute a chunk. */
export interface GradientBuffers {
  readonly control: SharedArrayBuffer
  readonly weights: SharedArrayBuffer
  readonly partials: SharedArrayBuffer
}

/** A control buffer with nothing to claim: workers that start before the first step wait for it. */
export const createControl = (): SharedArrayBuffer => {
  const buffer = new SharedArrayBuffer(CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT)
  Atomics.store(new Int32Array(buffer), CLAIM, CHUNK_MASK)
  return buffer
}

/** Opens a new step: every chunk unclaimed, none done, under the next generation. Returns that generation. */
export const publishStep = (control: Int32Array, step: number, previousGeneration: number): number => {
  const generation = (previousGeneration + 1) & GENERATION_MASK
  Atomics.store(control, DONE, 0)
  Atomics.store(control, STEP, step)
  Atomics.store(control, CLAIM, generation << CHUNK_BITS)
  Atomics.notify(control, CLAIM)
  return generation
}

/** claimFrom's answer when the step has no chunk left. */
export const ALL_CLAIMED = -1
/** claimFrom's answer when another thread changed the CLAIM word first (or a new step was published). */
export const CLAIM_LOST = -2

/** The CLAIM word as a thread reads it before it claims (for {@link claimFrom}). */
export const claimWord = (control: Int32Array): number => Atomics.load(control, CLAIM)

/**
 * One claim on the CLAIM word `word` as last read: its chunk, ALL_CLAIMED when the step has none left, or CLAIM_LOST when
 * another thread changed the word first.
 */
export const claimFrom = (control: Int32Array, word: number, chunks: number): number => {
  const chunk = word & CHUNK_MASK
  if (chunk >= chunks) return ALL_CLAIMED
  return Atomics.compareExchange(control, CLAIM, word, word + 1) === word ? chunk : CLAIM_LOST
}

/** The next unclaimed chunk of the current step, or -1 when all are claimed. */
export const claimChunk = (control: Int32Array, chunks: number): number => {
  for (;;) {
    const chunk = claimFrom(control, Atomics.load(control, CLAIM), chunks)
    if (chunk !== CLAIM_LOST) return chunk
  }
}

/** Counts a finished chunk; the thread that finishes the last one wakes the training thread. */
export const finishChunk = (control: Int32Array, chunks: number): void => {
  if (Atomics.add(control, DONE, 1) + 1 === chunks) Atomics.notify(control, DONE)
}

/**
 * How long a thread spins on a word before it sleeps. Steps follow each other within tens of microseconds while
 * waking a sleeping thread takes about as long as a small batch's chunk, so a short spin keeps the worker in every
 * step; between bursts of steps (evaluation, checkpoints) it sleeps.
 */
const SPIN_MS = 0.5

/** Waits until control[index] is no longer `value`: spinning for SPIN_MS, then sleeping (at most `timeoutMs`). */
const waitForChange = (control: Int32Array, index: number, value: number, timeoutMs?: number): void => {
  const spinUntil = performance.now() + SPIN_MS
  do {
    for (let i = 0; i < 64; i++) if (Atomics.load(control, index) !== value) return
  } while (performance.now() < spinUntil)
  Atomics.wait(control, index, value, timeoutMs)
}

/**
 * A worker's life: claim and compute chunks while there are any, wait until the next step is published (on the very
 * word that showed none left, so that a step published in between is never slept through), until STOP.
 */
export const workUntilStopped = (control: Int32Array, chunks: number, compute: (chunk: number, step: number) => void): void => {
  for (;;) {
    const word = Atomics.load(control, CLAIM)
    if (Atomics.load(control, STOP) !== 0) return
    const chunk = claimFrom(control, word, chunks)
    if (chunk === ALL_CLAIMED) waitForChange(control, CLAIM, word)
    else if (chunk !== CLAIM_LOST) {
      compute(chunk, Atomics.load(control, STEP))
      finishChunk(control, chunks)
    }
  }
}

/** Stops the workers: they see STOP at their next look at CLAIM, which this changes to wake them. */
export const stopWorkers = (control: Int32Array): void => {
  Atomics.store(control, STOP, 1)
  const generation = ((Atomics.load(control, CLAIM) >>> CHUNK_BITS) + 1) & GENERATION_MASK
  Atomics.store(control, CLAIM, (generation << CHUNK_BITS) | CHUNK_MASK)
  Atomics.notify(control, CLAIM)
}

/** A worker's failure: recorded for the training thread, which is woken to see it. */
export const reportFailure = (control: Int32Array): void => {
  Atomics.store(control, FAILED, 1)
  Atomics.notify(control, DONE)
}

/**
 * The training thread's wait for the step's last chunk. False when a worker failed: its claimed chunk will never be
 * counted. (Waits in slices so that a failure recorded between two looks is seen.)
 */
export const awaitChunks = (control: Int32Array, chunks: number): boolean => {
  for (;;) {
    const done = Atomics.load(control, DONE)
    if (done >= chunks) return true
    if (Atomics.load(control, FAILED) !== 0) return false
    waitForChange(control, DONE, done, 1000)
  }
}

/** Chunks a step may hold (they are counted in the low bits of CLAIM, and the all-ones count means "none"). */
export const MAX_CHUNKS = CHUNK_MASK - 1

/** A gradient worker thread failed: the step cannot finish (the run is retried or resumed). */
export class GradientWorkerFailed extends Error {
  constructor(cause: unknown) {
    super(
      `a gradient worker thread failed${cause instanceof Error ? `: ${cause.message}` : ""}; rerun to resume, or set runtime.samplerThreads to 0 to train on the training thread alone`
    )
    this.name = "GradientWorkerFailed"
  }
}
