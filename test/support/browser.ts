import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { chromium } from "playwright-core"

/** Debian's Chromium, installed by scripts/install-test-deps.sh (the README's test command). */
export const CHROMIUM = "/usr/bin/chromium"

export interface RenderedPage {
  /** Console errors and page errors. */
  readonly errors: ReadonlyArray<string>
  /** [width, height] of every figure's SVG as laid out. */
  readonly figureSizes: ReadonlyArray<readonly [number, number]>
  readonly tables: number
  /** The text of every second-level heading. */
  readonly headings: ReadonlyArray<string>
}

/** Opens an HTML file in headless Chromium, as a person opening the report would, and reads what it shows. */
export const openInChromium = (file: string) =>
  Effect.acquireUseRelease(
    Effect.promise(() =>
      chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
      })
    ),
    (browser) =>
      Effect.promise(async (): Promise<RenderedPage> => {
        const page = await browser.newPage()
        const errors: Array<string> = []
        page.on("console", (message) => {
          if (message.type() === "error") errors.push(message.text())
        })
        page.on("pageerror", (error) => errors.push(error.message))
        await page.goto(pathToFileURL(file).href)
        const figureSizes = await page.$$eval("figure svg", (svgs) => svgs.map((svg) => svg.getBoundingClientRect()).map((r) => [r.width, r.height] as const))
        const tables = await page.$$eval("table", (t) => t.length)
        const headings = await page.$$eval("h2", (h) => h.map((e) => e.textContent ?? ""))
        return { errors, figureSizes, tables, headings }
      }),
    (browser) => Effect.promise(() => browser.close())
  )
