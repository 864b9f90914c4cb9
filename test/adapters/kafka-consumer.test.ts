import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import type { MessageBatchContext } from '../../src/adapters/kafka.js'
import { freshTopic, kafkaClient, kafkaForFile } from '../services.js'

const kafka = kafkaForFile()

/** `count` messages of `bytes` each into one partition, one send (one record batch) each. */
async function fill(topic: string, partition: number, count: number, bytes: number): Promise<void> {
  const client = new Kafka({ clientId: 't', brokers: [kafka.broker], logLevel: logLevel.NOTHING })
  const producer = client.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  try {
    for (let i = 0; i < count; i++) {
      const value = JSON.stringify({ doc_id: `p${partition}-${i}`, text: 'x'.repeat(bytes) })
      await producer.send({ topic, acks: -1, messages: [{ partition, value }] })
    }
  } finally {
    await producer.disconnect()
  }
}

const lastOf = (ctx: MessageBatchContext): string => ctx.messages[ctx.messages.length - 1]?.offset as string

test('the next fetch goes out while a delivery is still being handled: another partition gets its next batch meanwhile', {
  timeout: 60_000,
}, async (t) => {
  const topic = freshTopic('pipe')
  // 3 MB per partition in 100 KB messages; kafkajs fetches up to 1 MB per partition at a time.
  await fill(topic, 0, 30, 100_000)
  await fill(topic, 1, 30, 100_000)
  const client = kafkaClient(t, kafka.broker)
  const consumer = await client.consumer(freshTopic('g'), topic, { maxWaitMs: 100 })
  let release = (): void => {}
  const held = new Promise<void>((r) => {
    release = r
  })
  t.after(() => {
    release()
    return consumer.stop()
  })
  const deliveries: Record<number, number> = { 0: 0, 1: 0 }
  let heldOne = false
  const secondOfOther = new Promise<number>((resolve) => {
    void consumer.run(async (ctx) => {
      deliveries[ctx.partition] = (deliveries[ctx.partition] ?? 0) + 1
      // The first delivery seen is held until the other partition has had two.
      if (!heldOne) {
        heldOne = true
        const other = ctx.partition === 0 ? 1 : 0
        const wait = setInterval(() => {
          if ((deliveries[other] ?? 0) >= 2) {
            clearInterval(wait)
            resolve(other)
          }
        }, 10)
        await held
      }
      await ctx.commit(lastOf(ctx))
    })
  })
  // Before: kafkajs fetched again only once every batch of its fetch was handled, so a slow
  // delivery stopped all partitions (this waited for the per-test timeout).
  const other = await secondOfOther
  assert.ok((deliveries[other] ?? 0) >= 2)
})

test('a delivery that fails is read again from its first offset, and nothing past it is committed before that', {
  timeout: 60_000,
}, async (t) => {
  const topic = freshTopic('fail')
  await fill(topic, 0, 30, 100_000)
  const client = kafkaClient(t, kafka.broker)
  const consumer = await client.consumer(freshTopic('g'), topic, { maxWaitMs: 100 })
  t.after(() => consumer.stop())
  /** In order: `deliver <first offset>`, `commit <last offset>`. */
  const events: string[] = []
  let failedAt = -1
  await new Promise<void>((resolve) => {
    void consumer.run(async (ctx) => {
      const first = Number(ctx.messages[0]?.offset)
      events.push(`deliver ${first}`)
      // The second delivery fails once, after a while (the next fetch is out by then).
      if (events.filter((e) => e.startsWith('deliver')).length === 2 && failedAt < 0) {
        failedAt = first
        await new Promise((r) => setTimeout(r, 200))
        throw new Error('the disk went away')
      }
      await ctx.commit(lastOf(ctx))
      events.push(`commit ${lastOf(ctx)}`)
      if (lastOf(ctx) === '29') resolve()
    })
  })
  const again = events.indexOf(`deliver ${failedAt}`, events.indexOf(`deliver ${failedAt}`) + 1)
  assert.ok(again > 0, `the failed delivery's offsets came again (${events.join(', ')})`)
  const commitsBefore = events.slice(0, again).filter((e) => e.startsWith('commit'))
  assert.ok(
    commitsBefore.every((e) => Number(e.split(' ')[1]) < failedAt),
    `nothing at or past ${failedAt} committed before it came again (${events.join(', ')})`,
  )
})
