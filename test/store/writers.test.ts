import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { layoutOf } from '../../src/store/layout.js'
import { liveWriters, registerWriter } from '../../src/store/writers.js'
import { tempDir } from '../helpers.js'

test('a registered writer is live until released; one whose process died on this host is dropped', (t) => {
  const layout = layoutOf(tempDir(t))
  assert.deepEqual(liveWriters(layout), [])
  const { release } = registerWriter(layout, 'enqueue')
  assert.deepEqual(
    liveWriters(layout).map((w) => [w.pid, w.what]),
    [[process.pid, 'enqueue']],
  )
  release()
  release()
  assert.deepEqual(liveWriters(layout), [])

  // A writer killed with -9 left its file behind: its pid is gone.
  const dir = path.join(layout.state, 'writers')
  mkdirSync(dir, { recursive: true })
  const deadPid = 4_194_000
  const file = path.join(dir, `${hostname()}-${deadPid}.json`)
  writeFileSync(file, JSON.stringify({ host: hostname(), pid: deadPid, what: 'enqueue', since: '' }))
  // Another host's writer cannot be checked from here: it counts as live.
  writeFileSync(
    path.join(dir, 'elsewhere-7.json'),
    JSON.stringify({ host: 'elsewhere', pid: 7, what: 'enqueue', since: '' }),
  )
  assert.deepEqual(
    liveWriters(layout).map((w) => w.host),
    ['elsewhere'],
  )
  assert.equal(existsSync(file), false)
  assert.deepEqual(readdirSync(dir), ['elsewhere-7.json'])
})

test('a writer reports how far it has read: at most once a second, replacing its file whole', (t) => {
  const layout = layoutOf(tempDir(t))
  const writer = registerWriter(layout, 'enqueue')
  t.after(writer.release)
  assert.equal(liveWriters(layout)[0]?.progress, undefined, 'no progress before the first report')
  writer.report({ bytesRead: 1_000, totalBytes: 10_000, docs: 50, batches: 5 })
  // Within the second: not written again (a file rewrite per batch would cost the enqueue its pace).
  writer.report({ bytesRead: 2_000, totalBytes: 10_000, docs: 100, batches: 10 })
  const [w] = liveWriters(layout)
  assert.deepEqual(
    { ...w?.progress, at: typeof w?.progress?.at },
    { bytesRead: 1_000, totalBytes: 10_000, docs: 50, batches: 5, at: 'string' },
  )
  assert.equal(w?.what, 'enqueue')
  // Replaced by a rename: no half-written file for a reader, and nothing else left in the folder.
  assert.deepEqual(
    readdirSync(path.join(layout.state, 'writers')).filter((f) => !f.endsWith('.json')),
    [],
  )
  writer.release()
  writer.report({ bytesRead: 3_000, totalBytes: 10_000, docs: 150, batches: 15 })
  assert.deepEqual(liveWriters(layout), [], 'a report after release writes nothing')
})
