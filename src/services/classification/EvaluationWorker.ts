/**
 * The body of an evaluation worker thread: computes the shares of evaluation sets' predictions it is sent
 * (EvaluationShare) and answers each with its id.
 */
import { parentPort, workerData } from "node:worker_threads"
import { computeShare, type Share } from "./EvaluationShare.js"

export interface ShareRequest {
  readonly id: number
  readonly share: Share
}

export type ShareReply = { readonly id: number; readonly error?: string }

// Only a thread started as an evaluation worker runs this body.
if (parentPort !== null && (workerData as { readonly role?: string } | undefined)?.role === "evaluation") {
  const port = parentPort
  port.on("message", ({ id, share }: ShareRequest) => {
    try {
      computeShare(share)
      port.postMessage({ id } satisfies ShareReply)
    } catch (error) {
      port.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies ShareReply)
    }
  })
}
