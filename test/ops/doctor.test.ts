import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import { runCli, tempDir } from '../helpers.js'
import { freshDatabase, freshTopic, kafkaClient, kafkaForFile, produce } from '../services.js'

const kafka = kafkaForFile()

test('doctor fails with a clear line for a wrong MySQL URL and a wrong Kafka broker', async (t) => {
  const run = runCli(t, ['doctor', '--data-dir', tempDir(t)], {
    LR_MYSQL_URL: 'mysql://root@127.0.0.1:3306/lr_no_such_database',
    LR_KAFKA_BROKERS: '127.0.0.1:1',
  })
  assert.equal((await run.exited).code, 1)
  const out = run.stdout.join('\n')
  assert.match(out, /^FAIL {2}mysql: .*Unknown database 'lr_no_such_database'$/m)
  assert.match(out, /^FAIL {2}kafka: 127\.0\.0\.1:1: .*ECONNREFUSED/m)
  assert.match(out, /fix: check LR_MYSQL_URL/)
  assert.match(out, /fix: check LR_KAFKA_BROKERS/)
  assert.match(out, /^ok {4}data dir:/m)
  assert.match(out, /2 check\(s\) failed/)
})

test('doctor passes against real MySQL, Kafka and the entity service, and names a missing topic', async (t) => {
  const db = await freshDatabase(t, 'doctor')
  const topic = freshTopic('doctor')
  await produce(kafkaClient(t, kafka.broker), topic, ['{"doc_id":"a","text":"x"}'])
  const gpu = await startMockGpu({ capacity: 2, callMs: 5 })
  t.after(() => gpu.close())
  const env = {
    LR_MYSQL_URL: db.url,
    LR_KAFKA_BROKERS: kafka.broker,
    LR_KAFKA_TOPIC: topic,
    LR_NER_URL: gpu.url,
  }
  const good = runCli(t, ['doctor', '--data-dir', tempDir(t)], env)
  assert.equal((await good.exited).code, 0, good.stdout.join('\n'))
  const out = good.stdout.join('\n')
  assert.match(out, /^ok {4}kafka: .*topic "doctor-\w+" has \d+ partitions/m)
  assert.match(out, /^ok {4}mysql: .*connected/m)
  assert.match(out, /^ok {4}entity service: .*one call, \d+ entities/m)
  assert.match(out, /all checks passed/)

  const noTopic = runCli(t, ['doctor', '--data-dir', tempDir(t)], {
    ...env,
    LR_KAFKA_TOPIC: freshTopic('absent'),
  })
  assert.equal((await noTopic.exited).code, 1)
  assert.match(noTopic.stdout.join('\n'), /^FAIL {2}kafka: .*topic "absent-\w+" does not exist/m)
})

test('doctor against a port that accepts connections but is not Kafka: says so and exits, never hangs', async (t) => {
  // Issue "Nothing lost", item 10: this kept doctor running for 19 minutes after its verdict.
  const silent = net.createServer((socket) => socket.on('error', () => {}))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    silent.close()
  })
  const port = (silent.address() as net.AddressInfo).port
  // A hang fails through the per-test timeout.
  const run = runCli(t, ['doctor', '--data-dir', tempDir(t)], { LR_KAFKA_BROKERS: `127.0.0.1:${port}` })
  const { code } = await run.exited
  assert.equal(code, 1)
  assert.match(run.stdout.join('\n'), /^FAIL {2}kafka: /m)
})
