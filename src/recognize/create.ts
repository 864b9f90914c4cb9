import { availableParallelism } from 'node:os'
import type { Settings } from '../core/config.js'
import type { Recognized, Recognizer } from '../core/contracts.js'
import { ConfigError } from '../core/errors.js'

/** `none`: no entities. Measures everything but recognition. */
class NoRecognizer implements Recognizer {
  readonly kind = 'none'
  async recognize(docs: { doc_id: string }[]): Promise<Recognized[]> {
    return docs.map((d) => ({ doc_id: d.doc_id, entities: [] }))
  }
  async close(): Promise<void> {}
}

/** A setting the recognizer cannot start with, found before anything is loaded (one line, exit 2). */
export function checkRecognizerSettings(settings: Settings): void {
  if (settings.recognizer === 'http' && !settings.nerUrl)
    throw new ConfigError('LR_RECOGNIZER=http needs LR_NER_URL')
}

/** Each kind's module (worker threads, the HTTP client) is loaded only when that kind is used. */
export async function createRecognizer(settings: Settings): Promise<Recognizer> {
  switch (settings.recognizer) {
    case 'none':
      return new NoRecognizer()
    case 'builtin':
    case 'dictionary': {
      // The GPU cap bounds threads in use; more threads than cores would only contend.
      const threads = Math.max(1, Math.min(settings.gpuConcurrency, availableParallelism()))
      const { ThreadRecognizer } = await import('./thread-recognizer.js')
      return new ThreadRecognizer(settings.recognizer, settings.entitiesPath, threads)
    }
    case 'http': {
      if (!settings.nerUrl) throw new ConfigError('LR_RECOGNIZER=http needs LR_NER_URL')
      const { HttpRecognizer } = await import('./http-recognizer.js')
      return new HttpRecognizer({
        url: settings.nerUrl,
        format: settings.nerFormat,
        timeoutMs: settings.nerTimeoutMs,
        connections: settings.gpuConcurrency,
      })
    }
  }
}
