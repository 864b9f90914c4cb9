import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MergedCommits, type PartitionOffset } from '../../src/adapters/kafka-commits.js'

/** A broker stand-in for the merging alone (the real commits run against kcat in the prefetcher tests). */
function recorder(): {
  sent: PartitionOffset[][]
  finish(err?: Error): void
  send(offsets: PartitionOffset[]): Promise<void>
} {
  const waiting: { resolve(): void; reject(err: Error): void }[] = []
  const r = {
    sent: [] as PartitionOffset[][],
    finish(err?: Error) {
      const w = waiting.shift()
      if (err) w?.reject(err)
      else w?.resolve()
    },
    send(offsets: PartitionOffset[]) {
      r.sent.push(offsets)
      return new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }))
    },
  }
  return r
}

const at = (partition: number, offset: number): PartitionOffset => ({
  topic: 't',
  partition,
  offset: String(offset),
})
const tick = () => new Promise((r) => setImmediate(r))

test('commits asked for while one is in flight go together in the next, the latest offset of each partition winning', async () => {
  const broker = recorder()
  const commits = new MergedCommits((o) => broker.send(o))
  const done: string[] = []
  const ask = (p: number, o: number) => commits.commit(at(p, o)).then(() => done.push(`${p}@${o}`))
  const first = ask(0, 10)
  await tick()
  assert.deepEqual(broker.sent, [[at(0, 10)]])
  const later = [ask(0, 20), ask(1, 5), ask(0, 30)]
  await tick()
  assert.equal(broker.sent.length, 1, 'nothing more is sent while a commit is in flight')
  broker.finish()
  await first
  await tick()
  assert.deepEqual(
    broker.sent[1],
    [at(0, 30), at(1, 5)],
    'one commit: partition 0 at its latest, partition 1',
  )
  assert.deepEqual(done, ['0@10'], 'the merged asks wait for the commit that carries them')
  broker.finish()
  await Promise.all(later)
  assert.deepEqual(done, ['0@10', '0@20', '1@5', '0@30'])
})

test('a failed commit fails the asks it carried; the next asks are committed all the same', async () => {
  const broker = recorder()
  const commits = new MergedCommits((o) => broker.send(o))
  const failed = commits.commit(at(0, 10))
  await tick()
  const next = commits.commit(at(0, 11))
  await tick()
  assert.deepEqual(broker.sent, [[at(0, 10)]])
  broker.finish(new Error('REBALANCE_IN_PROGRESS'))
  await assert.rejects(failed, /REBALANCE_IN_PROGRESS/)
  await tick()
  assert.deepEqual(broker.sent[1], [at(0, 11)])
  broker.finish()
  await next
})
