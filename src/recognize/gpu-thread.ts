import { Worker } from 'node:worker_threads'
import type { Recognized, Recognizer } from '../core/contracts.js'
import { AbortedError, RecognizeError, type RecognizeErrorFields } from '../core/errors.js'
import type { CallCap, GpuCapOptions, GpuCapSnapshot } from './gpu-cap.js'
import type { HttpRecognizerOptions } from './http-recognizer.js'

/** What the main thread sends the GPU thread. */
export type ToGpuThread =
  | { type: 'call'; id: number; docs: { doc_id: string; text: string }[] }
  | { type: 'cancel'; id: number }
  | { type: 'close' }

/** What the GPU thread answers: a call's outcome, with the cap's state after it. */
export type FromGpuThread =
  | { type: 'done'; id: number; ok: Recognized[]; snap: GpuCapSnapshot }
  | {
      type: 'fail'
      id: number
      message: string
      fields: RecognizeErrorFields & { retryable: boolean }
      aborted: boolean
      snap: GpuCapSnapshot
    }

export interface GpuThreadData {
  http: HttpRecognizerOptions
  cap: GpuCapOptions
}

interface Pending {
  resolve: (r: Recognized[]) => void
  reject: (e: unknown) => void
}

const WORKER_URL = new URL('./gpu-thread-worker.js', import.meta.url)

/**
 * The entity service's client and its GPU cap in a thread of their own.
 * On the main thread, a finished call's slot was refilled only once that thread got round to it:
 * behind a batch's milestone, its result lines, its claim (the traced run in bench/RESULTS.md,
 * sixth session: up to 6.5 ms at p90 between a call's request and its write). Here the thread's
 * event loop does nothing but calls, so the next one goes out as soon as a slot frees; the main
 * thread only hands over documents and takes results.
 * The cap's state comes back with every call (`snapshot`). A thread that dies fails its calls
 * as retryable and a new one starts with the next call, at the limit the last one had reached.
 */
export class GpuThread implements Recognizer, CallCap {
  readonly kind = 'http'
  private worker: Worker | null = null
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private snap: GpuCapSnapshot
  private closed = false

  constructor(
    private readonly data: GpuThreadData,
    private readonly opts: {
      /** Told once each time a thread dies (its calls fail as retryable). */
      onDied?: (err: Error) => void
      /** The thread's script; tests give a stand-in. */
      workerUrl?: URL
    } = {},
  ) {
    this.snap = {
      limit: Math.floor(data.cap.start ?? data.cap.max),
      slowStart: data.cap.slowStart ?? false,
      lastCallAt: null,
      max: data.cap.max,
      inFlight: 0,
      circuit: 'closed',
      calls: 0,
      ok: 0,
      overloads: 0,
      failures: 0,
      decreases: 0,
      circuitOpens: 0,
    }
  }

  /** The cap is in the thread: a call from the pipeline goes straight there. */
  run<T>(call: () => Promise<T>): Promise<T> {
    return call()
  }

  /** The cap's state as of the last call that ended (calls, limit, circuit). */
  snapshot(): GpuCapSnapshot {
    // Calls sent to the thread wait there under the cap; in flight are those it let through.
    return { ...this.snap, inFlight: this.pending.size === 0 ? 0 : this.snap.inFlight }
  }

  recognize(docs: { doc_id: string; text: string }[], signal: AbortSignal): Promise<Recognized[]> {
    if (signal.aborted) return Promise.reject(new AbortedError('recognition call cancelled'))
    if (this.closed) return Promise.reject(new AbortedError('the entity service client is closed'))
    const worker = this.thread()
    const id = this.nextId++
    return new Promise<Recognized[]>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.pending.delete(id)) return
        if (this.pending.size === 0) worker.unref()
        worker.postMessage({ type: 'cancel', id } satisfies ToGpuThread)
        reject(new AbortedError('recognition call cancelled'))
      }
      this.pending.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort)
          resolve(r)
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      })
      signal.addEventListener('abort', onAbort, { once: true })
      if (this.pending.size === 1) worker.ref()
      const call: ToGpuThread = {
        type: 'call',
        id,
        docs: docs.map((d) => ({ doc_id: d.doc_id, text: d.text })),
      }
      worker.postMessage(call)
    })
  }

  async close(): Promise<void> {
    this.closed = true
    const worker = this.worker
    if (!worker) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.postMessage({ type: 'close' } satisfies ToGpuThread)
    // Its pool closes in a moment; a thread that does not answer is ended.
    const timer = setTimeout(() => void worker.terminate(), 5_000)
    await exited
    clearTimeout(timer)
  }

  private thread(): Worker {
    if (this.worker) return this.worker
    const cap: GpuCapOptions =
      this.snap.calls > 0
        ? // A new thread after one died: start at the limit the last one had reached.
          { ...this.data.cap, start: this.snap.limit, slowStart: this.snap.slowStart }
        : this.data.cap
    const worker = new Worker(this.opts.workerUrl ?? WORKER_URL, {
      workerData: { http: this.data.http, cap } satisfies GpuThreadData,
      // Its heap holds a few calls at a time. V8's defaults (sized by the machine's memory) let it
      // grow by ~40 MB of garbage in a 20k-document run; these keep the process near its size
      // without the thread (bench/RESULTS.md, sixth session), with room for large documents.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 512 },
    })
    worker.on('message', (m: FromGpuThread) => this.onMessage(m))
    // An error in the thread ends it; 'exit' fails its calls.
    let cause: Error | undefined
    worker.on('error', (err) => {
      cause = err
    })
    worker.once('exit', (code) => {
      if (this.worker === worker) this.worker = null
      const left = [...this.pending.values()]
      this.pending.clear()
      if (this.closed) {
        for (const p of left) p.reject(new AbortedError('the entity service client is closed'))
        return
      }
      const why = cause ? `: ${cause.message}` : ''
      const died = new RecognizeError(
        `entity service client thread stopped (exit code ${code})${why}; its calls are retried`,
        { retryable: true, ...(cause ? { cause } : {}) },
      )
      this.opts.onDied?.(died)
      for (const p of left) p.reject(died)
    })
    // Only calls in flight keep the process alive, not an idle thread.
    worker.unref()
    this.worker = worker
    return worker
  }

  private onMessage(m: FromGpuThread): void {
    this.snap = m.snap
    const p = this.pending.get(m.id)
    if (!p) return
    this.pending.delete(m.id)
    if (this.pending.size === 0) this.worker?.unref()
    if (m.type === 'done') p.resolve(m.ok)
    else if (m.aborted) p.reject(new AbortedError(m.message))
    else p.reject(new RecognizeError(m.message, m.fields))
  }
}
