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
  const release = registerWriter(layout, 'enqueue')
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
