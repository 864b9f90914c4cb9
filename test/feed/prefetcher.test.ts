import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import type {
  GroupConsumer,
  KafkaClient,
  KafkaMessage,
  MessageBatchContext,
} from '../../src/adapters/kafka.js'
import { loadSettings } from '../../src/core/config.js'
import { KafkaSource } from '../../src/feed/kafka-source.js'
import { Prefetcher } from '../../src/feed/prefetcher.js'
import { readBatchFile } from '../../src/store/batch-file.js'
import { ensureLayout, layoutOf, leftFile } from '../../src/store/layout.js'
import { fillDisk, smallDisk } from '../helpers.js'
import { freshTopic, kafkaClient, produce, startKafka } from '../services.js'
import { captureLog, freshLayout } from '../work/fixtures.js'

/** A consumer that hands one fetched batch to the prefetcher, as kafkajs's eachBatch does. */
function oneBatch(
  messages: KafkaMessage[],
  hooks: { onHeartbeat?: () => void; delivered?: Promise<void> } = {},
) {
  const commits: string[] = []
  /** What the consumer saw, in order: the handler returning, offsets committed. */
  const events: string[] = []
  let handled: Promise<void> = Promise.resolve()
  const consumer: GroupConsumer = {
    run: async (onBatch) => {
      // Held back (a group join, say) until the test lets it through.
      await hooks.delivered
      const ctx: MessageBatchContext = {
        topic: 't',
        partition: 0,
        messages,
        heartbeat: async () => hooks.onHeartbeat?.(),
        commit: async (last) => {
          commits.push(last)
          events.push(`commit ${last}`)
        },
        isRunning: () => true,
      }
      handled = onBatch(ctx).then(() => {
        events.push('returned')
      })
    },
    stop: async () => {},
  }
  const kafka = { consumer: async () => consumer, ensureTopic: async () => {} } as unknown as KafkaClient
  return { kafka, commits, events, handled: () => handled }
}

const kafkaSource = (kafka: KafkaClient): KafkaSource =>
  new KafkaSource(kafka, { topic: 't', group: 'g', maxWaitMs: 100, sessionTimeoutMs: 6000 })

const msg = (offset: number, value: string): KafkaMessage => ({
  offset: String(offset),
  value: Buffer.from(value),
})

test('an invalid message whose dead/ entry cannot be written yet is kept and written later; offsets wait for it', async (t) => {
  const layout = await freshLayout(t)
  const settings = loadSettings({}, { LR_DATA_DIR: layout.root, LR_MIN_FREE_DISK: '0' })
  // dead/ is unusable at first (a file where the folder should be): every write there fails.
  rmSync(layout.dead, { recursive: true })
  writeFileSync(layout.dead, '')
  const messages = [
    msg(0, JSON.stringify({ doc_id: 'a', text: 'x' })),
    msg(1, 'not json {'),
    msg(2, '{"doc_id": 5}'),
    msg(3, JSON.stringify({ doc_id: 'b', text: 'y' })),
  ]
  let heartbeats = 0
  const feed = oneBatch(messages, {
    onHeartbeat: () => {
      heartbeats++
      // The operator fixes it while the prefetcher waits.
      rmSync(layout.dead, { force: true })
      mkdirSync(layout.dead, { recursive: true })
    },
  })
  const prefetcher = new Prefetcher(settings, layout, kafkaSource(feed.kafka), pino({ level: 'silent' }))
  await prefetcher.start()
  await feed.handled()
  await prefetcher.stop()
  assert.ok(heartbeats >= 1, 'it waited (keeping the session alive) instead of giving up')
  const dead = readdirSync(layout.dead).map((f) => JSON.parse(readFileSync(`${layout.dead}/${f}`, 'utf8')))
  assert.deepEqual(dead.map((d) => d.source.offset).sort(), ['1', '2'], 'both invalid messages are in dead/')
  assert.deepEqual(feed.commits, ['3'], 'offsets committed once, after the batch file and dead/ entries')
  const files = readdirSync(layout.left).filter((f) => !f.startsWith('.'))
  assert.equal(files.length, 1)
  const id = (files[0] as string).replace('.msgpack', '')
  const batch = await readBatchFile(leftFile(layout, id), id)
  assert.deepEqual(
    batch.docs.map((d) => d.doc_id),
    ['a', 'b'],
  )
  assert.equal(prefetcher.stats.dead, 2)
})

test('a delivery returns once its files are written: the source fetches on while they are synced, and the commit follows the sync', async (t) => {
  const layout = await freshLayout(t)
  const settings = loadSettings({}, { LR_DATA_DIR: layout.root, LR_MIN_FREE_DISK: '0', LR_BATCH_SIZE: '2' })
  const messages = Array.from({ length: 5 }, (_, i) => msg(i, JSON.stringify({ doc_id: `d${i}`, text: 'x' })))
  const feed = oneBatch(messages)
  const prefetcher = new Prefetcher(settings, layout, kafkaSource(feed.kafka), pino({ level: 'silent' }))
  await prefetcher.start()
  await feed.handled()
  await prefetcher.stop()
  assert.deepEqual(feed.events, ['returned', 'commit 4'], 'the commit comes after the handler returned')
  assert.equal(prefetcher.stats.messages, 5, 'every message acknowledged once its file was synced')
  const files = readdirSync(layout.left).filter((f) => !f.startsWith('.'))
  assert.equal(files.length, 3, 'five messages in batches of two: three files')
})

test('batch files are written into empty files made while the source was joining: no new inode on the write path, none left after stop', {
  timeout: 20_000,
}, async (t) => {
  const layout = await freshLayout(t)
  const settings = loadSettings({}, { LR_DATA_DIR: layout.root, LR_MIN_FREE_DISK: '0', LR_BATCH_SIZE: '2' })
  const messages = Array.from({ length: 5 }, (_, i) => msg(i, JSON.stringify({ doc_id: `d${i}`, text: 'x' })))
  let join = (): void => {}
  const feed = oneBatch(messages, { delivered: new Promise<void>((resolve) => (join = resolve)) })
  const prefetcher = new Prefetcher(settings, layout, kafkaSource(feed.kafka), pino({ level: 'silent' }))
  const started = prefetcher.start()
  // While the source joins, the prefetcher makes its spares (as many as left/ has room for).
  const spares = (): string[] => readdirSync(layout.left).filter((f) => f.startsWith('.tmp-spare-'))
  while (spares().length < 3) await new Promise((r) => setTimeout(r, 10))
  const spareInodes = new Set(spares().map((f) => statSync(path.join(layout.left, f)).ino))
  join()
  await started
  await feed.handled()
  await prefetcher.stop()
  const files = readdirSync(layout.left).filter((f) => f.endsWith('.msgpack'))
  assert.equal(files.length, 3, 'five messages in batches of two: three files')
  for (const f of files) {
    assert.ok(spareInodes.has(statSync(path.join(layout.left, f)).ino), `${f} was written into a spare`)
    const id = f.replace('.msgpack', '')
    assert.equal((await readBatchFile(leftFile(layout, id), id)).docs.length > 0, true, `${f} reads whole`)
  }
  assert.deepEqual(
    readdirSync(layout.left).filter((f) => f.startsWith('.')),
    [],
    'the spares not used are removed when the prefetcher stops',
  )
})

test('a full disk while prefetching from Kafka: one line when it runs out, one when space is back; the batch is written and committed then', async (t) => {
  const broker = await startKafka(t)
  const client = kafkaClient(t, broker)
  const topic = freshTopic('diskfull')
  const group = freshTopic('g')
  await produce(
    client,
    topic,
    Array.from({ length: 3 }, (_, i) => JSON.stringify({ doc_id: `d${i}`, text: 'x' })),
  )
  const committed = async () =>
    [...(await client.committedOffsets(group, topic)).values()].reduce((n, o) => n + (o > 0n ? o : 0n), 0n)
  const mount = smallDisk(t, '4m')
  const layout = layoutOf(path.join(mount, 'data'))
  await ensureLayout(layout)
  const filler = fillDisk(mount)
  assert.equal(statfsSync(mount).bavail, 0, 'the disk is full')
  const settings = loadSettings({}, { LR_DATA_DIR: layout.root, LR_MIN_FREE_DISK: '0' })
  const { log, lines } = captureLog()
  const prefetcher = new Prefetcher(
    settings,
    layout,
    new KafkaSource(client, { topic, group, maxWaitMs: 100, sessionTimeoutMs: 6000 }),
    log,
  )
  await prefetcher.start()
  // Long enough for several attempts (one every 2 s).
  await new Promise((r) => setTimeout(r, 5000))
  assert.equal(await committed(), 0n, 'nothing committed while nothing is written')
  rmSync(filler)
  while (prefetcher.stats.messages < 3) await new Promise((r) => setTimeout(r, 50))
  await prefetcher.stop()
  assert.equal(await committed(), 3n, 'all three committed once written')
  assert.equal(
    readdirSync(layout.left).filter((f) => !f.startsWith('.')).length > 0,
    true,
    'the batch files are there',
  )
  assert.deepEqual(
    readdirSync(layout.left).filter((f) => f.startsWith('.')),
    [],
    'no temp file left behind',
  )
  const said = (text: string) => lines.filter((l) => String(l.msg).includes(text)).length
  assert.equal(said('out of disk space'), 1, 'one line when it ran out')
  assert.equal(said('disk space is back'), 1, 'one line when it went on')
  assert.deepEqual(
    lines.filter((l) => Number(l.level) >= 50).map((l) => l.msg),
    [],
    'a full disk is waited out, not an error per attempt',
  )
})
