/**
 * Resources are torn down in the reverse order they were acquired. Each
 * releaser runs once even if release() is called again; the first error is
 * kept and rethrown after all have run.
 */
export class Releasers {
  private readonly stack: { name: string; fn: () => Promise<void> | void }[] = []

  push(name: string, fn: () => Promise<void> | void): void {
    this.stack.push({ name, fn })
  }

  async release(): Promise<void> {
    let first: unknown
    while (this.stack.length > 0) {
      const { name, fn } = this.stack.pop() as (typeof this.stack)[number]
      try {
        await fn()
      } catch (err) {
        first ??= new Error(`releasing ${name} failed: ${(err as Error).message}`, { cause: err })
      }
    }
    if (first !== undefined) throw first
  }
}
