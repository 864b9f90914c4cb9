import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync, unlinkSync, utimesSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { closeOpenFiles, writeFileAtomicOpen } from '../../src/store/atomic.js'
import { BatchSpares } from '../../src/store/batch-spares.js'
import { removeOrphanTemps } from '../../src/store/housekeeping.js'
import { ensureLayout, layoutOf } from '../../src/store/layout.js'
import { tempDir } from '../helpers.js'

const sparesIn = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.tmp-spare-'))
const until = async (ok: () => boolean): Promise<void> => {
  while (!ok()) await new Promise((r) => setTimeout(r, 5))
}

test('spares are made only while the writer is idle, up to the target, and removed when dropped', {
  timeout: 20_000,
}, async (t) => {
  const dir = tempDir(t)
  let idle = false
  const spares = new BatchSpares(dir, 3, () => idle)
  spares.fill()
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(spares.size, 0, 'none while the writer writes')
  idle = true
  await until(() => spares.size === 3)
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(sparesIn(dir).length, 3, 'three, no more')
  for (const name of sparesIn(dir)) assert.equal(statSync(path.join(dir, name)).size, 0, 'empty')
  await spares.drop()
  assert.deepEqual(sparesIn(dir), [], 'the unused ones are gone')
  spares.fill()
  assert.equal(spares.size, 0, 'and none are made after')
})

test('a file written through a spare keeps its inode; a spare removed by the temp sweep is written anyway', {
  timeout: 20_000,
}, async (t) => {
  const dir = tempDir(t)
  const spares = new BatchSpares(dir, 2, () => true)
  spares.fill()
  await until(() => spares.size === 2)
  const first = spares.take() as string
  const ino = statSync(first).ino
  const a = writeFileAtomicOpen(path.join(dir, 'a.msgpack'), Buffer.from('first'), first)
  assert.equal(statSync(path.join(dir, 'a.msgpack')).ino, ino, 'no new inode: the spare became the file')
  const second = spares.take() as string
  unlinkSync(second)
  const b = writeFileAtomicOpen(path.join(dir, 'b.msgpack'), Buffer.from('second'), second)
  closeOpenFiles([a, b])
  assert.equal(readFileSync(path.join(dir, 'a.msgpack'), 'utf8'), 'first')
  assert.equal(readFileSync(path.join(dir, 'b.msgpack'), 'utf8'), 'second')
  await spares.drop()
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith('.')),
    [],
    'no spare or temp file left behind',
  )
})

test('spares kept for long get a fresh mtime: the sweep of temp files older than an hour leaves them', {
  timeout: 20_000,
}, async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const spares = new BatchSpares(layout.left, 2, () => true)
  t.after(() => spares.drop())
  spares.fill()
  await until(() => spares.size === 2)
  // Two hours on: made then, and not used since.
  const hoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000)
  for (const name of sparesIn(layout.left)) utimesSync(path.join(layout.left, name), hoursAgo, hoursAgo)
  await spares.refresh(Date.now() + 2 * 60 * 60 * 1000)
  await removeOrphanTemps(layout)
  assert.equal(sparesIn(layout.left).length, 2, 'both still there')
})
