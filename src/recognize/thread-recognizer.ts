import { Piscina } from 'piscina'
import type { Recognized, Recognizer } from '../core/contracts.js'
import { AbortedError, RecognizeError } from '../core/errors.js'

/** Embedded recognizer: a pool of worker threads, at most `threads` busy at once. */
export class ThreadRecognizer implements Recognizer {
  readonly kind: string
  private readonly pool: Piscina

  constructor(mode: 'builtin' | 'dictionary', entitiesPath: string, threads: number) {
    this.kind = mode
    this.pool = new Piscina({
      filename: new URL('./builtin/thread.js', import.meta.url).href,
      workerData: { entitiesPath },
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 60_000,
    })
  }

  async recognize(docs: { doc_id: string; text: string }[], signal: AbortSignal): Promise<Recognized[]> {
    try {
      return (await this.pool.run({ mode: this.kind, docs }, { signal })) as Recognized[]
    } catch (err) {
      if (signal.aborted) throw new AbortedError('recognition aborted', { cause: err })
      throw new RecognizeError(`embedded recognizer failed: ${(err as Error).message}`, {
        cause: err,
        retryable: true,
      })
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy()
  }
}
