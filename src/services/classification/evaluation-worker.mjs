// Worker threads do not inherit tsx's loader: register it here, then load the TypeScript worker body.
import { register } from "tsx/esm/api"

register()
await import("./EvaluationWorker.ts")
