import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { makeDocs, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshTopic, kafkaClient, kafkaForFile, produce } from '../services.js'

const kafka = kafkaForFile()

// Issue "Nothing lost", item 6: after a kill -9, `start` must not wait for the group join
// (the dead member holds it for the session timeout) before working on what is in left/.
test('a restart with Kafka configured claims pending batches at once, while the consumer joins beside the workers', async (t) => {
  const topic = freshTopic('restart')
  await produce(kafkaClient(t, kafka.broker), topic, [JSON.stringify({ doc_id: 'k-0', text: 'x' })])
  const dir = tempDir(t)
  const env = {
    LR_KAFKA_BROKERS: kafka.broker,
    LR_KAFKA_TOPIC: topic,
    LR_KAFKA_GROUP: `g-${topic}`,
    LR_KAFKA_SESSION_TIMEOUT_MS: '30000',
    LR_RECOGNIZER: 'none',
  }
  // A member joins the group and is killed: the group waits the session timeout for it.
  const first = runCli(t, ['start', '--data-dir', dir], env)
  await first.waitForLine((l) => l.includes('prefetch started'))
  first.child.kill('SIGKILL')
  await first.exited
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(200))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  const startedAt = Date.now()
  const second = runCli(t, ['start', '--data-dir', dir], env)
  await second.waitForLine((l) => l.includes('"batch done"'))
  const ms = Date.now() - startedAt
  // The point is not speed: it did not wait for the group, which holds the join for the 30 s session timeout.
  assert.ok(
    ms < 25_000,
    `first batch done ${ms} ms after the restart, before the dead member's session expired`,
  )
  // Its consumer may still be joining: no need to wait for that here.
  second.child.kill('SIGKILL')
  await second.exited
})
