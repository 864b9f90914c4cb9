import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import type { Settings } from '../core/config.js'
import type { Recognized, Recognizer } from '../core/contracts.js'
import { AbortedError, ConfigError, RecognizeError } from '../core/errors.js'
import { HttpRecognizer } from './http-recognizer.js'

/** Embedded recognizer: a pool of worker threads, at most `threads` busy at once. */
class ThreadRecognizer implements Recognizer {
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

/** `none`: no entities. Measures everything but recognition. */
class NoRecognizer implements Recognizer {
  readonly kind = 'none'
  async recognize(docs: { doc_id: string }[]): Promise<Recognized[]> {
    return docs.map((d) => ({ doc_id: d.doc_id, entities: [] }))
  }
  async close(): Promise<void> {}
}

export function createRecognizer(settings: Settings): Recognizer {
  switch (settings.recognizer) {
    case 'none':
      return new NoRecognizer()
    case 'builtin':
    case 'dictionary': {
      // The GPU cap bounds threads in use; more threads than cores would only contend.
      const threads = Math.max(1, Math.min(settings.gpuConcurrency, availableParallelism()))
      return new ThreadRecognizer(settings.recognizer, settings.entitiesPath, threads)
    }
    case 'http':
      if (!settings.nerUrl) throw new ConfigError('LR_RECOGNIZER=http needs LR_NER_URL')
      return new HttpRecognizer({
        url: settings.nerUrl,
        format: settings.nerFormat,
        timeoutMs: settings.nerTimeoutMs,
        connections: settings.gpuConcurrency,
      })
  }
}
