/** Free TCP ports on this machine. */
import { createServer } from "node:net"

/** Whether `port` can be listened on (on every interface). */
export const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, () => server.close(() => resolve(true)))
  })

/** The first free port from `first` on (at most 1000 tried), else one the system picks. */
export const freePortFrom = async (first: number): Promise<number> => {
  for (let port = first; port < first + 1000; port++) if (await isFree(port)) return port
  return freePort()
}

/** A free port the system picks. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no free port"))))
    })
  })
