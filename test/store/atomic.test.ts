import assert from 'node:assert/strict'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { syncFiles, writeFileAtomic } from '../../src/store/atomic.js'
import { tempDir } from '../helpers.js'

test('syncFiles makes a group of files durable in one pass, and a file already consumed (gone) is not an error', async (t) => {
  const dir = tempDir(t)
  const files = ['a', 'b', 'c'].map((n) => path.join(dir, n))
  for (const f of files) await writeFileAtomic(f, `content of ${path.basename(f)}`, { durable: false })
  // A worker took, finished and retired `b` before the prefetcher's sync pass.
  rmSync(files[1] as string)
  await syncFiles(dir, files)
  assert.equal(readFileSync(files[0] as string, 'utf8'), 'content of a')
  assert.equal(existsSync(files[1] as string), false)
  await assert.rejects(syncFiles(path.join(dir, 'no-such-dir'), [path.join(dir, 'a')]), /ENOENT/)
})
