import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { ensureLayout, layoutOf, newBatchId } from '../../src/store/layout.js'
import { ClaimQueue } from '../../src/work/claim-queue.js'
import { tempDir } from '../helpers.js'

const watches = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length

test('a queue stopped while its watcher is still starting leaves no watch behind (the process can exit)', async (t) => {
  const before = watches()
  for (let i = 0; i < 5; i++) {
    const layout = layoutOf(tempDir(t))
    await ensureLayout(layout)
    // Many files in left/, all claimed (a marker each): no candidates, so the queue watches, and
    // chokidar's first scan of the folder takes a while.
    for (let j = 0; j < 2000; j++) {
      const id = newBatchId()
      writeFileSync(path.join(layout.left, `${id}.msgpack`), '')
      writeFileSync(path.join(layout.right, id), '')
    }
    const queue = new ClaimQueue({ layout, log: pino({ level: 'silent' }), rescanMs: 60_000 })
    await queue.start()
    assert.equal(queue.watching, true)
    await queue.stop()
  }
  // chokidar ignores a close() that comes before its 'ready': the watch would stay and hold the process.
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(watches(), before)
})
