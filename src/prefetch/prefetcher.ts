import { readdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { Settings } from '../config.js'
import { describeError } from '../errors.js'
import type { GroupConsumer, KafkaClient, KafkaMessage, MessageBatchContext } from '../kafka/client.js'
import { sleep } from '../lifecycle/sleep.js'
import type { Logger } from '../log.js'
import { writeFileAtomic } from '../spool/atomic.js'
import { type Doc, writeBatchFile } from '../spool/batch-file.js'
import { diskState } from '../spool/disk.js'
import { classifyLeftName, type Layout, leftFile, newBatchId, prefetchStateFile } from '../spool/layout.js'
import { writeDead } from '../spool/set-aside.js'
import { decodeMessage } from './decode-message.js'

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
 * Kafka -> left/. Packs up to batchSize messages into one batch file, writes it
 * durably, and only then commits the offsets of exactly those messages: a crash
 * in between re-delivers, never loses. Invalid messages go to dead/ with topic,
 * partition, offset and reason. Pauses (stops fetching) while left/ is full or
 * the disk is low.
 */
export class Prefetcher {
  readonly stats: PrefetchStats = { messages: 0, bytes: 0, batches: 0, dead: 0, paused: null }
  private consumer: GroupConsumer | null = null
  private readonly stopController = new AbortController()
  private readonly maxLeft: number

  constructor(
    private readonly settings: Settings,
    private readonly layout: Layout,
    private readonly kafka: KafkaClient,
    private readonly log: Logger,
  ) {
    const maxPending = settings.prefetchMaxPending || settings.workers * 3
    // left/ also holds the batches being worked on.
    this.maxLeft = maxPending + settings.workers
  }

  async start(): Promise<void> {
    const { kafkaGroup, kafkaTopic, kafkaMaxWaitMs } = this.settings
    this.consumer = await this.kafka.consumer(kafkaGroup, kafkaTopic, {
      maxWaitMs: kafkaMaxWaitMs,
      sessionTimeoutMs: this.settings.kafkaSessionTimeoutMs,
    })
    await this.setPaused(null, true)
    await this.consumer.run((ctx) => this.onBatch(ctx))
    this.log.info({ topic: kafkaTopic, group: kafkaGroup, maxLeft: this.maxLeft }, 'prefetch started')
  }

  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return
    this.stopController.abort()
    await this.consumer?.stop()
  }

  private async onBatch(ctx: MessageBatchContext): Promise<void> {
    const size = this.settings.batchSize
    for (let i = 0; i < ctx.messages.length; i += size) {
      if (!(await this.waitForRoom(ctx))) return
      const chunk = ctx.messages.slice(i, i + size)
      if (!(await this.writeChunk(ctx, chunk))) return
      await ctx.commit((chunk[chunk.length - 1] as KafkaMessage).offset)
    }
  }

  /** Write a chunk's batch file and dead entries. False when stopped before it was durable. */
  private async writeChunk(ctx: MessageBatchContext, chunk: KafkaMessage[]): Promise<boolean> {
    const docs: Doc[] = []
    const dead: { m: KafkaMessage; reason: string }[] = []
    for (const m of chunk) {
      const decoded = decodeMessage(m.value, this.settings.maxTextBytes)
      if ('doc' in decoded) docs.push(decoded.doc)
      else dead.push({ m, reason: decoded.reason })
    }
    const first = (chunk[0] as KafkaMessage).offset
    const last = (chunk[chunk.length - 1] as KafkaMessage).offset
    for (let attempt = 0; ; attempt++) {
      try {
        for (const { m, reason } of dead.splice(0)) {
          await writeDead(this.layout, {
            stage: 'kafka',
            reason,
            source: { topic: ctx.topic, partition: m.partition, offset: m.offset },
            item: m.value ? m.value.toString('base64') : null,
          })
          this.stats.dead++
          this.log.warn(
            { topic: ctx.topic, partition: m.partition, offset: m.offset, reason },
            'message set aside in dead/',
          )
        }
        if (docs.length > 0) {
          const id = newBatchId()
          const bytes = await writeBatchFile(
            leftFile(this.layout, id),
            id,
            docs,
            `kafka:${ctx.topic}/${ctx.partition}@${first}-${last}`,
          )
          this.stats.batches++
          this.stats.bytes += bytes
        }
        this.stats.messages += chunk.length
        return true
      } catch (err) {
        // ENOSPC and friends: nothing committed, nothing half-written (atomic writes). Wait and retry.
        this.log.error({ err: describeError(err), attempt }, 'writing a batch file failed; will retry')
        await this.setPaused('disk')
        await this.keepAliveFor(ctx, 2000)
        if (!ctx.isRunning() || this.stopController.signal.aborted) return false
      }
    }
  }

  /** Block (keeping the group session alive) while left/ is full or the disk is low. */
  private async waitForRoom(ctx: MessageBatchContext): Promise<boolean> {
    for (;;) {
      if (!ctx.isRunning() || this.stopController.signal.aborted) return false
      const reason = await this.pauseReason()
      await this.setPaused(reason)
      if (reason === null) return true
      await this.keepAliveFor(ctx, ROOM_POLL_MS)
    }
  }

  private async keepAliveFor(ctx: MessageBatchContext, ms: number): Promise<void> {
    await sleep(ms, this.stopController.signal)
    await ctx.heartbeat()
  }

  private async pauseReason(): Promise<PauseReason> {
    if ((await diskState(this.layout.root, this.settings.minFreeDisk)).low) return 'disk'
    let n = 0
    for (const name of await readdir(this.layout.left)) if (classifyLeftName(name).kind === 'batch') n++
    // Hysteresis: once paused for backlog, resume only when left/ is down to half the limit.
    const limit = this.stats.paused === 'backlog' ? Math.floor(this.maxLeft / 2) : this.maxLeft - 1
    return n > limit ? 'backlog' : null
  }

  private async setPaused(reason: PauseReason, force = false): Promise<void> {
    if (reason === this.stats.paused && !force) return
    this.stats.paused = reason
    if (reason) this.log.info({ reason }, `prefetch paused: ${reason}`)
    else if (!force) this.log.info('prefetch resumed')
    const state = { paused: reason, since: new Date().toISOString(), host: hostname(), pid: process.pid }
    await writeFileAtomic(prefetchStateFile(this.layout), `${JSON.stringify(state)}\n`).catch(() => {})
  }
}
