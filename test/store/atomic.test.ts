import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import {
  closeOpenFiles,
  type OpenFile,
  syncFiles,
  syncOpenFiles,
  writeFileAtomic,
  writeFileAtomicOpen,
} from '../../src/store/atomic.js'
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

test('writeFileAtomicOpen puts the whole file in place at once and keeps it open; syncOpenFiles syncs a group, one retired meanwhile included; closeOpenFiles closes them', async (t) => {
  const dir = tempDir(t)
  const files = ['a', 'b', 'c'].map((n) =>
    writeFileAtomicOpen(path.join(dir, n), Buffer.from(`content of ${n}`)),
  )
  assert.deepEqual(readdirSync(dir).sort(), ['a', 'b', 'c'], 'in place under its name, no temp file left')
  assert.equal(readFileSync(path.join(dir, 'a'), 'utf8'), 'content of a')
  // A worker took, finished and retired `b` before the sync pass: its open file syncs all the same.
  rmSync((files[1] as OpenFile).path)
  await syncOpenFiles(dir, files)
  closeOpenFiles(files)
  // Closed: the descriptor no longer points at the file (its number may be another file's by now).
  for (const f of files) {
    let on: string | null = null
    try {
      on = readlinkSync(`/proc/self/fd/${f.fd}`)
    } catch {}
    assert.notEqual(on, f.path)
  }
  // A failed fsync (here: a descriptor no process has; a closed one could be reused by the
  // folder's open meanwhile) fails the pass.
  await assert.rejects(syncOpenFiles(dir, [{ path: path.join(dir, 'd'), fd: 1_000_000 }]), /EBADF/)
  // And so does the folder's.
  const e = writeFileAtomicOpen(path.join(dir, 'e'), Buffer.from('e'))
  await assert.rejects(syncOpenFiles(path.join(dir, 'no-such-dir'), [e]), /ENOENT/)
  closeOpenFiles([e])
})
