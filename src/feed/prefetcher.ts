import { hostname } from 'node:os'
import type { Settings } from '../core/config.js'
import type { Service } from '../core/contracts.js'
import { isNoSpace } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { Outages } from '../core/outages.js'
import { retry } from '../core/retry.js'
import { sleep } from '../core/sleep.js'
import { type OpenFile, writeFileAtomic } from '../store/atomic.js'
import { packDoc } from '../store/batch-file.js'
import { BatchSpares } from '../store/batch-spares.js'
import { packNewBatch, rewriteBatchFile, writeNewBatchOpen } from '../store/batches.js'
import { floorState } from '../store/disk.js'
import { type Layout, stateFiles } from '../store/layout.js'
import { scanSpool } from '../store/scan.js'
import { rawInput, writeDead } from '../store/set-aside.js'
import { AckAfterSync } from './ack-after-sync.js'
import { decodeMessage } from './decode-message.js'
import { JsonToMsgpack } from './json-msgpack.js'
import type { Delivery, Source, SourceEntry } from './source.js'

export type PauseReason = 'backlog' | 'disk' | null

export interface PrefetchStats {
  messages: number
  bytes: number
  batches: number
  dead: number
  paused: PauseReason
}

const ROOM_POLL_MS = 500
/**
 * While not paused, the full room check (statfs, a listing of left/ and right/) runs at most
 * this often; in between, each file written counts as one more waiting. Listing a left/ of
 * thousands of files before every chunk cost the prefetcher about a tenth of its time.
 */
const CHECK_MS = 100
/** Batch files of one delivery handed over together for their sync and acknowledgement. */
const GROUP_FILES = 8
/** At most this many empty files kept ready for batch files (each a name in left/'s listing). */
const MAX_SPARES = 1024
/** No batch file written for this long: idle, spares may be made. */
const IDLE_MS = 50

/** A chunk of entries written: its batch file (none when every entry went to dead/) and its bytes. */
interface WrittenChunk {
  entries: SourceEntry[]
  file: { open: OpenFile; data: Buffer } | null
}

/**
 * A source (Kafka, Redis Streams, RabbitMQ) -> left/. Packs up to batchSize entries
 * into one batch file, writes it durably, and only then acknowledges exactly those
 * entries: a crash in between re-delivers, never loses. Invalid entries go to dead/
 * with their position and reason, then are acknowledged with the rest. Pauses (holds
 * the delivery, so the source reads nothing more) while left/ is full or the disk is low.
 */
export class Prefetcher implements Service {
  readonly stats: PrefetchStats = { messages: 0, bytes: 0, batches: 0, dead: 0, paused: null }
  private readonly stopController = new AbortController()
  private readonly maxLeft: number
  private pausedAt = 0
  /** The last full room check: when, and left/'s size then; files allowed since (written or being written). */
  private checked = { at: 0, left: 0 }
  private allowedSince = 0
  private checking: Promise<PauseReason> | null = null
  /** This prefetcher found the disk full and has not written since. */
  private diskFull = false
  private readonly acks: AckAfterSync
  /** Empty files for the next batch files, made while idle (store/batch-spares.ts). */
  private readonly spares: BatchSpares
  private lastWriteAt = 0
  /** Packs a chunk's documents (shared: a chunk is packed without a pause, see writeChunk). */
  private readonly packer = new JsonToMsgpack()

  constructor(
    private readonly settings: Settings,
    private readonly layout: Layout,
    private readonly source: Source,
    private readonly log: Logger,
    /** The process's outages (status shows them); a full disk is reported there once. */
    private readonly outages: Outages = new Outages(log),
  ) {
    const maxPending = settings.prefetchMaxPending || settings.workers * 3
    // left/ also holds the batches being worked on.
    this.maxLeft = maxPending + settings.workers
    this.acks = new AckAfterSync(layout.left, log, this.stopController.signal)
    // A burst is at most left/'s room: after the join, or once the workers made room.
    this.spares = new BatchSpares(
      layout.left,
      Math.min(this.maxLeft, MAX_SPARES),
      () => performance.now() - this.lastWriteAt >= IDLE_MS,
    )
  }

  async start(): Promise<void> {
    await this.setPaused(null, true)
    // Made while the source joins its group.
    this.spares.fill()
    await this.source.start((d) => this.onDelivery(d))
    this.log.info({ source: this.source.name, maxLeft: this.maxLeft }, 'prefetch started')
  }

  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return
    this.stopController.abort()
    // What is already written and synced is acknowledged before the source goes: fewer repeats.
    await this.acks.drain()
    await this.source.stop()
    await this.spares.drop()
  }

  /**
   * The chunks of a delivery are written one after another without a sync each, and handed over
   * in groups of up to GROUP_FILES files: one sync pass shared with every other delivery in
   * flight makes them durable, and only then are their entries acknowledged (AckAfterSync). The
   * delivery does not wait for that, so the source fetches the next one meanwhile; it waits only
   * while too much is waiting for its sync. A crash before the sync re-delivers: documents may
   * come twice (idempotent), never not at all.
   */
  private async onDelivery(d: Delivery): Promise<void> {
    const size = this.settings.batchSize
    let group: WrittenChunk[] = []
    const handOver = (): void => {
      if (group.length === 0) return
      const chunks = group
      group = []
      const entries = chunks.flatMap((c) => c.entries)
      void this.acks.add({
        files: chunks.flatMap((c) => (c.file ? [c.file.open] : [])),
        bytes: chunks.reduce((sum, c) => sum + (c.file?.data.length ?? 0), 0),
        rewrite: (signal) => this.rewrite(chunks, signal),
        ack: () => this.ack(d, entries),
      })
    }
    try {
      for (let i = 0; i < d.entries.length; i += size) {
        if (!d.isRunning() || this.stopController.signal.aborted) return
        const reason = await this.pauseReason()
        if (group.length >= GROUP_FILES || reason !== null) handOver()
        if (reason === null) await this.setPaused(null)
        else if (!(await this.waitForRoom(d))) return
        if (!(await this.waitForSyncs(d))) return
        const chunk = await this.writeChunk(d, d.entries.slice(i, i + size))
        if (!chunk) return
        group.push(chunk)
      }
    } finally {
      handOver()
    }
  }

  /** Acknowledge a group's entries, unless its delivery was abandoned (they come again then). */
  private async ack(d: Delivery, entries: SourceEntry[]): Promise<void> {
    if (!d.isRunning()) return
    try {
      await d.ack(entries)
      this.stats.messages += entries.length
    } catch (err) {
      this.log.warn(
        { err, entries: entries.length },
        'acknowledging prefetched entries failed; they come again',
      )
    }
  }

  /** After a failed sync pass: the same bytes again over each file, durably (retried until stopped). */
  private async rewrite(chunks: WrittenChunk[], signal: AbortSignal): Promise<void> {
    for (const { file } of chunks) {
      if (file === null) continue
      await retry(
        `write ${file.open.path} again`,
        () => rewriteBatchFile(file.open.path, file.data),
        {
          attempts: Number.POSITIVE_INFINITY,
          retryable: () => !signal.aborted,
          onRetry: ({ err, attempt }) => this.failedWrite(err, attempt, 'writing a batch file again failed'),
          wait: async (ms) => {
            await this.setPaused('disk')
            await sleep(Math.max(ms, 2000), signal)
          },
        },
        signal,
      )
      this.diskBack()
    }
  }

  /** A full disk is an outage, said once (and once when it ends); any other failed write is an error each time. */
  private failedWrite(err: unknown, attempt: number, what: string): void {
    if (!isNoSpace(err)) {
      this.log.error({ err, attempt }, `${what}; will retry`)
      return
    }
    this.diskFull = true
    this.outages.failed('disk', err, 'prefetch waits')
  }

  /** A write went through: the outage this prefetcher reported is over (the workers report their own). */
  private diskBack(): void {
    if (!this.diskFull) return
    this.diskFull = false
    this.outages.ok('disk')
  }

  /** Wait (keeping the source's session alive) while too much written waits for its sync. */
  private async waitForSyncs(d: Delivery): Promise<boolean> {
    while (this.acks.full()) {
      if (!d.isRunning() || this.stopController.signal.aborted) return false
      await this.acks.passEnd(ROOM_POLL_MS)
      await d.heartbeat()
    }
    return true
  }

  /**
   * Write a chunk's batch file (not yet synced) and its dead entries (durable each). Null when
   * stopped before it was written.
   */
  private async writeChunk(d: Delivery, chunk: SourceEntry[]): Promise<WrittenChunk | null> {
    const max = this.settings.maxTextBytes
    const dead: { e: SourceEntry; reason: string }[] = []
    // Each message straight to its msgpack bytes when it surely is a document; the long way else.
    const packer = this.packer
    packer.reset()
    let docs = 0
    for (const e of chunk) {
      if (e.value !== null && packer.doc(e.value, max)) {
        docs++
        continue
      }
      const decoded = decodeMessage(e.value, max)
      if ('doc' in decoded) {
        packer.append(packDoc(decoded.doc))
        docs++
      } else dead.push({ e, reason: decoded.reason })
    }
    const source = d.label(chunk[0] as SourceEntry, chunk[chunk.length - 1] as SourceEntry)
    // Framed now, before any wait: the packer is the next chunk's once this one waits.
    const batch = docs > 0 ? packNewBatch(packer.bytes(), docs, source) : null
    const written: WrittenChunk = { entries: chunk, file: null }
    const stopped = (): boolean => !d.isRunning() || this.stopController.signal.aborted
    try {
      await retry(
        `prefetch ${source}`,
        async () => {
          // Each dead entry leaves the list only once it is written: a failed write retries the rest.
          while (dead.length > 0) {
            const { e, reason } = dead[0] as (typeof dead)[number]
            await writeDead(this.layout, {
              stage: this.source.kind,
              reason,
              source: e.position,
              ...(e.value ? rawInput(e.value, 'base64') : {}),
            })
            dead.shift()
            this.stats.dead++
            this.log.warn({ ...e.position, reason }, 'message set aside in dead/')
          }
          if (batch !== null && written.file === null) {
            this.lastWriteAt = performance.now()
            const file = writeNewBatchOpen(this.layout, batch, this.spares.take())
            written.file = { open: file, data: batch.data }
            this.stats.batches++
            this.stats.bytes += batch.data.length
          }
        },
        {
          attempts: Number.POSITIVE_INFINITY,
          // ENOSPC and friends: nothing acknowledged, nothing half-written (atomic writes). Wait and retry.
          retryable: () => !stopped(),
          onRetry: ({ err, attempt }) => this.failedWrite(err, attempt, 'writing a batch file failed'),
          wait: async () => {
            await this.setPaused('disk')
            await this.keepAliveFor(d, 2000)
          },
        },
        this.stopController.signal,
      )
      this.diskBack()
    } catch (err) {
      if (stopped()) return null
      throw err
    }
    return written
  }

  /** Block (keeping the source's session alive) while left/ is full or the disk is low. */
  private async waitForRoom(d: Delivery): Promise<boolean> {
    for (;;) {
      if (!d.isRunning() || this.stopController.signal.aborted) return false
      const reason = await this.pauseReason()
      await this.setPaused(reason)
      if (reason === null) return true
      await this.keepAliveFor(d, ROOM_POLL_MS)
    }
  }

  private async keepAliveFor(d: Delivery, ms: number): Promise<void> {
    await sleep(ms, this.stopController.signal)
    await d.heartbeat()
  }

  /**
   * Why not to write the next batch file now, or null: then one more file is counted as on its
   * way. Deliveries of several partitions ask at once: they share one full check, and each
   * counts its file against the same estimate.
   */
  private async pauseReason(): Promise<PauseReason> {
    const full = (): boolean => this.checked.left + this.allowedSince > this.maxLeft - 1
    if (this.stats.paused !== null || Date.now() - this.checked.at >= CHECK_MS || full()) {
      this.checking ??= this.checkRoom().finally(() => {
        this.checking = null
      })
      const reason = await this.checking
      if (reason !== null) return reason
      if (full()) return 'backlog'
    }
    this.allowedSince++
    return null
  }

  private async checkRoom(): Promise<PauseReason> {
    // Hysteresis for the disk too: once paused, resume only with a margin above the floor.
    const disk = await floorState(this.layout.root, this.settings.minFreeDisk, this.stats.paused === 'disk')
    if (disk.low) return 'disk'
    const n = (await scanSpool(this.layout)).left.size
    this.checked = { at: Date.now(), left: n }
    this.allowedSince = 0
    // Hysteresis: once paused for backlog, resume only when left/ is down to half the limit.
    const limit = this.stats.paused === 'backlog' ? Math.floor(this.maxLeft / 2) : this.maxLeft - 1
    return n > limit ? 'backlog' : null
  }

  private async setPaused(reason: PauseReason, force = false): Promise<void> {
    if (reason === this.stats.paused && !force) return
    const was = this.stats.paused
    this.stats.paused = reason
    const now = Date.now()
    if (reason) {
      this.pausedAt = now
      this.log.info({ reason }, `prefetch paused: ${reason}`)
    } else if (!force) {
      const pausedMs = now - this.pausedAt
      this.log.info(
        { reason: was, pausedMs },
        `prefetch resumed after ${Math.round(pausedMs / 1000)} s (${was})`,
      )
    }
    const state = { paused: reason, since: new Date().toISOString(), host: hostname(), pid: process.pid }
    // Only `status` reads it; a full disk must not stop prefetching (the pause itself is logged above).
    await writeFileAtomic(stateFiles(this.layout).prefetch, `${JSON.stringify(state)}\n`, {
      durable: false,
    }).catch((err: unknown) => this.log.debug({ err }, 'cannot write state/prefetch.json'))
  }
}
