import { parentPort, workerData } from 'node:worker_threads'
import pino from 'pino'
import { layoutOf } from '../store/layout.js'
import { enqueueFiles } from './enqueue.js'
import type { EnqueueThreadData, FromEnqueueThread, ToEnqueueThread } from './enqueue-thread.js'

/** The enqueue thread (see EnqueueThread): `enqueueFiles`, its log lines and batch ids sent to the main thread. */
const port = parentPort
if (!port) throw new Error('enqueue-thread-worker runs as a worker thread')
const data = workerData as EnqueueThreadData
const send = (m: FromEnqueueThread): void => port.postMessage(m)
const stopping = new AbortController()
const REPORT_EVERY_MS = 500
let reportedAt = 0
port.on('message', (m: ToEnqueueThread) => {
  if (m.type === 'stop') stopping.abort()
})
// Its lines go to the process's own logger (one format, one file, the dashboard's problems list).
const log = pino({ level: data.logLevel }, { write: (line: string) => send({ type: 'log', line }) })

enqueueFiles(data.files, {
  layout: layoutOf(data.dataDir),
  batchSize: data.batchSize,
  maxTextBytes: data.maxTextBytes,
  ...(data.minFreeDisk ? { minFreeDisk: data.minFreeDisk } : {}),
  log,
  signal: stopping.signal,
  // The main thread's entry in state/writers/ stands for this thread; it reports the progress sent.
  register: false,
  onBatch: (id) => send({ type: 'batch', id }),
  onProgress: (progress) => {
    // For the progress line (every few seconds): a report each half second is plenty.
    const now = Date.now()
    if (now - reportedAt < REPORT_EVERY_MS) return
    reportedAt = now
    send({ type: 'progress', progress })
  },
}).then(
  (result) => {
    send({ type: 'done', result, stopped: stopping.signal.aborted })
    port.close()
  },
  (err: unknown) => {
    send({ type: 'fail', message: err instanceof Error ? err.message : String(err) })
    port.close()
  },
)
