import { availableParallelism } from 'node:os'
import type { Settings } from '../core/config.js'
import type { Recognized, Recognizer } from '../core/contracts.js'
import { ConfigError } from '../core/errors.js'
import type { GpuCapOptions } from './gpu-cap.js'
import type { GpuThread } from './gpu-thread.js'

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

/**
 * The entity service's client with its GPU cap, in a thread of their own (GpuThread). The thread
 * starts with the first call. It is both the `http` recognizer and the pipeline's cap.
 */
export async function createGpuThread(
  settings: Settings,
  cap: GpuCapOptions,
  onDied?: (err: Error) => void,
): Promise<GpuThread> {
  if (!settings.nerUrl) throw new ConfigError('LR_RECOGNIZER=http needs LR_NER_URL')
  const { GpuThread } = await import('./gpu-thread.js')
  return new GpuThread(
    {
      http: {
        url: settings.nerUrl,
        format: settings.nerFormat,
        timeoutMs: settings.nerTimeoutMs,
        connections: settings.gpuConcurrency,
      },
      cap,
    },
    onDied ? { onDied } : {},
  )
}

/**
 * Each kind's module (worker threads, the HTTP client) is loaded only when that kind is used.
 * `http` is the GpuThread made for the cap (createGpuThread).
 */
export async function createRecognizer(settings: Settings, gpuThread: GpuThread | null): Promise<Recognizer> {
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
    case 'http':
      return gpuThread ?? (await createGpuThread(settings, { max: settings.gpuConcurrency }))
  }
}
