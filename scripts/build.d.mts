/** The repository's root folder. */
export declare const root: string
/** SHA-256 (16 hex digits) over every input of the bundle. */
export declare const inputHash: () => string
/** The folder of the bundle of the current sources, built first when they changed. */
export declare const ensureBuilt: () => Promise<string>
