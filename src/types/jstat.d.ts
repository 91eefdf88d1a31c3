/** The part of jStat (a CommonJS module whose export is the jStat object) that this project uses. */
declare module "jstat" {
  const jStat: {
    readonly studentt: {
      /** The p-quantile of Student's t with `dof` degrees of freedom. */
      readonly inv: (p: number, dof: number) => number
    }
  }
  export default jStat
}
