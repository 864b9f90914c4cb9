import { Kafka, logLevel } from 'kafkajs'
import pino from 'pino'
import { createKafkaClient } from '../dist/src/adapters/kafka.js'
import { freshTopic, produce, startKafka } from '../dist/test/services.js'
import { sampleDocs } from '../dist/bench/common.js'
const stops = []
const broker = await startKafka({ after: (fn) => stops.push(fn) })
const topic = freshTopic('bench'); const n = 60000
const client = createKafkaClient([broker], pino({ level: 'warn' }), 'x')
await produce(client, topic, sampleDocs(n).map((d) => JSON.stringify(d))); await client.close()
for (let r = 0; r < 3; r++) {
  const kafka = new Kafka({ clientId: 'bench-bare', brokers: [broker], logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: freshTopic('g'), maxWaitTimeInMs: 500 })
  const t0 = performance.now(); let first = 0, seen = 0, batches = 0
  await consumer.connect(); const tc = performance.now() - t0
  await consumer.subscribe({ topic, fromBeginning: true })
  await new Promise((resolve) => { void consumer.run({ eachBatch: async ({ batch }) => { if (!first) first = performance.now() - t0; batches++; seen += batch.messages.length; if (seen >= n) resolve() } }) })
  console.log('bare total', (performance.now() - t0).toFixed(0), 'connect', tc.toFixed(0), 'first', first.toFixed(0), 'batches', batches)
  await consumer.disconnect()
}
for (const f of stops) f()
