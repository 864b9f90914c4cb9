import { parentPort, workerData } from 'node:worker_threads'
import { AbortedError, RecognizeError } from '../core/errors.js'
import { GpuCap } from './gpu-cap.js'
import type { FromGpuThread, GpuThreadData, ToGpuThread } from './gpu-thread.js'
import { HttpRecognizer } from './http-recognizer.js'

/** The GPU thread (see GpuThread): the cap and the HTTP client, and nothing else on its event loop. */
const port = parentPort
if (!port) throw new Error('gpu-thread-worker runs as a worker thread')
const data = workerData as GpuThreadData
const recognizer = new HttpRecognizer(data.http)
const cap = new GpuCap(data.cap)
const calls = new Map<number, AbortController>()

const send = (m: FromGpuThread): void => port.postMessage(m)

function call(id: number, docs: { doc_id: string; text: string }[]): void {
  const ctl = new AbortController()
  calls.set(id, ctl)
  cap
    .run(() => recognizer.recognize(docs, ctl.signal), ctl.signal)
    .then(
      (ok) => {
        calls.delete(id)
        send({ type: 'done', id, ok, snap: cap.snapshot() })
      },
      (err: unknown) => {
        calls.delete(id)
        const aborted = ctl.signal.aborted || err instanceof AbortedError
        const fields =
          err instanceof RecognizeError
            ? {
                retryable: err.retryable,
                overload: err.overload,
                tooLarge: err.tooLarge,
                unreachable: err.unreachable,
                ...(err.status !== undefined ? { status: err.status } : {}),
                ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
              }
            : { retryable: false }
        const message = err instanceof Error ? err.message : String(err)
        send({ type: 'fail', id, message, fields, aborted, snap: cap.snapshot() })
      },
    )
}

port.on('message', (m: ToGpuThread) => {
  switch (m.type) {
    case 'call':
      call(m.id, m.docs)
      return
    case 'cancel':
      calls.get(m.id)?.abort()
      return
    case 'close':
      for (const ctl of calls.values()) ctl.abort()
      // With its pool and port closed, the thread ends; GpuThread.close waits for that.
      void recognizer.close().finally(() => port.close())
      return
  }
})
