import { Worker } from 'node:worker_threads'
import pino from 'pino'
import type { DiskFloor } from '../core/config.js'
import type { Service } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import type { WriterProgress } from '../store/writers.js'
import type { EnqueueResult } from './enqueue.js'

export interface EnqueueThreadData {
  files: string[]
  dataDir: string
  batchSize: number
  maxTextBytes: number
  minFreeDisk?: DiskFloor
  logLevel: string
}

export type ToEnqueueThread = { type: 'stop' }

export type FromEnqueueThread =
  | { type: 'batch'; id: string }
  | { type: 'progress'; progress: WriterProgress }
  | { type: 'log'; line: string }
  | { type: 'done'; result: EnqueueResult; stopped: boolean }
  | { type: 'fail'; message: string }

/** How the enqueue thread ended: all read, stopped part way, or failed (the error's message). */
export type EnqueueEnd =
  | { kind: 'done'; result: EnqueueResult }
  /** Stopped part way; no result when the thread had to be ended (a read that did not return). */
  | { kind: 'stopped'; result: EnqueueResult | null }
  | { kind: 'failed'; message: string }

const WORKER_URL = new URL('./enqueue-thread-worker.js', import.meta.url)
/** After a stop, how long the thread may take to write what it has read before it is ended. */
const STOP_GRACE_MS = 5_000

/**
 * `start FILE...`: the files are split into batch files by a thread of this process while its
 * workers claim them, so the whole job is one command and the reading (JSON parsing, msgpack,
 * creating files) runs on the second core rather than before the work or on the workers' thread.
 * Each batch's id comes back as soon as its file is in left/ (`onBatch`), so the workers need no
 * rescan to find it. `ended` settles once the thread has exited, with how it ended.
 */
export class EnqueueThread implements Service {
  private worker: Worker | null = null
  private end: EnqueueEnd | null = null
  private stopAsked = false
  private latest: WriterProgress | null = null
  private settle: (e: EnqueueEnd) => void = () => {}
  readonly ended: Promise<EnqueueEnd>

  constructor(
    private readonly data: EnqueueThreadData,
    private readonly opts: {
      log: Logger
      onBatch: (id: string) => void
      /** How far the files have been read, at most every half second. */
      onProgress?: (progress: WriterProgress) => void
    },
  ) {
    this.ended = new Promise((resolve) => {
      this.settle = resolve
    })
  }

  /** How far the files have been read (reported at most every half second), or null before the first batch and once ended. */
  get progress(): WriterProgress | null {
    return this.end ? null : this.latest
  }

  async start(): Promise<void> {
    if (this.worker || this.end) return
    const worker = new Worker(WORKER_URL, { workerData: this.data satisfies EnqueueThreadData })
    this.worker = worker
    let crash: Error | null = null
    worker.on('message', (m: FromEnqueueThread) => this.onMessage(m))
    worker.on('error', (err) => {
      crash = err
    })
    worker.once('exit', (code) => {
      this.worker = null
      this.latest = null
      const why = crash
        ? crash.message
        : `the enqueue thread exited (code ${code}) before it said how it ended`
      const cut: EnqueueEnd = this.stopAsked
        ? { kind: 'stopped', result: null }
        : { kind: 'failed', message: why }
      this.settle(this.end ?? cut)
    })
  }

  /** Stop reading: the thread ends after the batch it is writing (what it has read stays in left/). */
  async stop(): Promise<void> {
    const worker = this.worker
    if (!worker) return
    this.stopAsked = true
    worker.postMessage({ type: 'stop' } satisfies ToEnqueueThread)
    const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS)
    await this.ended
    clearTimeout(timer)
  }

  private onMessage(m: FromEnqueueThread): void {
    switch (m.type) {
      case 'batch':
        this.opts.onBatch(m.id)
        return
      case 'progress':
        this.latest = m.progress
        this.opts.onProgress?.(m.progress)
        return
      case 'log':
        this.relay(m.line)
        return
      case 'done':
        this.end = { kind: m.stopped ? 'stopped' : 'done', result: m.result }
        return
      case 'fail':
        this.end = { kind: 'failed', message: m.message }
        return
    }
  }

  /** A pino line from the thread, logged again by this process's logger at its level. */
  private relay(line: string): void {
    try {
      const {
        level,
        msg,
        time: _t,
        pid: _p,
        hostname: _h,
        ...fields
      } = JSON.parse(line) as Record<string, unknown>
      const name = (pino.levels.labels[Number(level)] ?? 'info') as pino.Level
      this.opts.log[name](fields, typeof msg === 'string' ? msg : '')
    } catch {
      this.opts.log.info(line.trim())
    }
  }
}
