import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { createKafkaClient } from '../dist/src/adapters/kafka.js'
import { loadSettings } from '../dist/src/core/config.js'
import { KafkaSource } from '../dist/src/feed/kafka-source.js'
import { Prefetcher } from '../dist/src/feed/prefetcher.js'
import { ensureLayout, layoutOf } from '../dist/src/store/layout.js'
import { freshTopic, produce, startKafka } from '../dist/test/services.js'
import { sampleDocs } from '../dist/bench/common.js'
const stops = []
const log = pino({ level: 'warn' })
const broker = await startKafka({ after: (fn) => stops.push(fn) })
const topic = freshTopic('bench')
const n = 60000
const values = sampleDocs(n).map((d) => JSON.stringify(d))
const client = createKafkaClient([broker], log, 'x')
await produce(client, topic, values)
await client.close()
for (let round = 0; round < 3; round++) {
const dataDir = mkdtempSync(path.join(tmpdir(), 'pf-'))
const settings = loadSettings({}, { LR_DATA_DIR: dataDir, LR_KAFKA_BROKERS: broker, LR_KAFKA_TOPIC: topic, LR_KAFKA_GROUP: freshTopic('g'), LR_PREFETCH_MAX_PENDING: '100000', LR_MIN_FREE_DISK: '0' })
const layout = layoutOf(dataDir)
await ensureLayout(layout)
const kafka = createKafkaClient([broker], log, 'x')
const src = new KafkaSource(kafka, { topic, group: settings.kafkaGroup, maxWaitMs: settings.kafkaMaxWaitMs, sessionTimeoutMs: settings.kafkaSessionTimeoutMs })
const t0 = performance.now()
const ev = []
const origStart = src.start.bind(src)
src.start = (on) => origStart(async (d) => {
  const a = performance.now() - t0
  const origAck = d.ack
  d.ack = async (e) => { const s = performance.now() - t0; await origAck(e); ev.push(['ack', e.length, s, performance.now() - t0]) }
  await on(d)
  ev.push(['deliv', d.entries.length, a, performance.now() - t0, d.entries[0].position.partition])
})
const p = new Prefetcher(settings, layout, src, log)
await p.start()
while (p.stats.messages < n) await new Promise((r) => setTimeout(r, 5))
const total = performance.now() - t0
await p.stop(); await kafka.close()
const d = ev.filter((e) => e[0] === 'deliv'), a = ev.filter((e) => e[0] === 'ack')
console.log('total', total.toFixed(0), 'first delivery', d[0][2].toFixed(0), 'last delivery end', Math.max(...d.map((x) => x[3])).toFixed(0), 'deliveries', d.length, 'acks', a.length)
console.log('handler ms sum', d.reduce((s, x) => s + x[3] - x[2], 0).toFixed(0), 'ack ms sum', a.reduce((s, x) => s + x[3] - x[2], 0).toFixed(0))
console.log('msgs/deliv', (n / d.length).toFixed(0))
}
for (const f of stops) f()
