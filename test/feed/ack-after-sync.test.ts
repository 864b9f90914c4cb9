import assert from 'node:assert/strict'
import { existsSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { AckAfterSync, type Written } from '../../src/feed/ack-after-sync.js'
import { type OpenFile, syncOpenFiles, writeFileAtomicOpen } from '../../src/store/atomic.js'
import { tempDir } from '../helpers.js'

const silent = pino({ level: 'silent' })

/** What this process's descriptor `fd` is open on, or null when it is closed. */
const openOn = (fd: number): string | null => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return null
  }
}

/** A written file in `dir` (still open), and an item whose ack and rewrite are recorded in `events`. */
function item(dir: string, name: string, events: string[]): Written {
  return {
    files: [writeFileAtomicOpen(path.join(dir, name), Buffer.from(name))],
    bytes: name.length,
    rewrite: async () => {
      events.push(`rewrite ${name}`)
    },
    ack: async () => {
      events.push(`ack ${name}`)
    },
  }
}

test('files handed over while a pass runs share the next pass; acks follow the sync, in hand-over order', async (t) => {
  const dir = tempDir(t)
  const events: string[] = []
  const passes: string[][] = []
  let release: () => void = () => {}
  const firstHeld = new Promise<void>((r) => {
    release = r
  })
  const sync = async (d: string, files: OpenFile[]): Promise<void> => {
    passes.push(files.map((f) => path.basename(f.path)))
    events.push(`sync ${passes.length}`)
    if (passes.length === 1) await firstHeld
    await syncOpenFiles(d, files)
  }
  const acks = new AckAfterSync(dir, silent, new AbortController().signal, sync)
  const items = ['a', 'b', 'c', 'd'].map((name) => item(dir, name, events))
  const done = [acks.add(items[0] as Written)]
  // The first pass is held: b, c and d wait and go together in the second.
  for (const it of items.slice(1)) done.push(acks.add(it))
  assert.deepEqual(events, ['sync 1'], 'nothing acknowledged while its sync has not finished')
  release()
  await Promise.all(done)
  for (const it of items) {
    const f = it.files[0] as OpenFile
    assert.notEqual(openOn(f.fd), f.path, 'each file is closed after its pass')
  }
  assert.deepEqual(passes, [['a'], ['b', 'c', 'd']])
  assert.deepEqual(
    events.filter((e) => e.startsWith('ack')),
    ['ack a', 'ack b', 'ack c', 'ack d'],
  )
  assert.ok(events.indexOf('ack a') > events.indexOf('sync 1'), events.join(', '))
  for (const n of ['b', 'c', 'd'])
    assert.ok(events.indexOf(`ack ${n}`) > events.indexOf('sync 2'), events.join(', '))
})

// Its own timeout: without the overlap the wait for 'sync b' below never ends.
test('the next pass syncs while the pass before it is still being acknowledged; its acks wait for those', {
  timeout: 30_000,
}, async (t) => {
  const dir = tempDir(t)
  const events: string[] = []
  const sync = async (d: string, files: OpenFile[]): Promise<void> => {
    events.push(`sync ${files.map((f) => path.basename(f.path)).join('')}`)
    await syncOpenFiles(d, files)
  }
  const acks = new AckAfterSync(dir, silent, new AbortController().signal, sync)
  let release: () => void = () => {}
  const commitHeld = new Promise<void>((r) => {
    release = r
  })
  const a = item(dir, 'a', events)
  // a's commit is a slow round trip to the broker.
  a.ack = async () => {
    events.push('ack a starts')
    await commitHeld
    events.push('ack a')
  }
  const done = [acks.add(a)]
  while (!events.includes('ack a starts')) await new Promise((r) => setImmediate(r))
  done.push(acks.add(item(dir, 'b', events)))
  while (!events.includes('sync b')) await new Promise((r) => setImmediate(r))
  assert.deepEqual(events, ['sync a', 'ack a starts', 'sync b'])
  release()
  await Promise.all(done)
  assert.deepEqual(events, ['sync a', 'ack a starts', 'sync b', 'ack a', 'ack b'])
})

test('a failed sync pass writes its batches again, in order, before acknowledging them or anything after', async (t) => {
  const dir = tempDir(t)
  const events: string[] = []
  let calls = 0
  const sync = async (d: string, files: OpenFile[]): Promise<void> => {
    calls++
    if (calls === 1) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
    await syncOpenFiles(d, files)
  }
  const acks = new AckAfterSync(dir, silent, new AbortController().signal, sync)
  const first = acks.add(item(dir, 'a', events))
  const second = acks.add(item(dir, 'b', events))
  await Promise.all([first, second])
  assert.deepEqual(events, ['rewrite a', 'ack a', 'ack b'])
})

test('a rewrite that cannot succeed: nothing of it or after it is acknowledged, and stop still returns', async (t) => {
  const dir = tempDir(t)
  const events: string[] = []
  const stop = new AbortController()
  const acks = new AckAfterSync(dir, silent, stop.signal, async () => {
    throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
  })
  const broken = item(dir, 'a', events)
  broken.rewrite = async (signal) => {
    events.push('rewrite a')
    // As the prefetcher's rewrite does: retried until stopped.
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
    throw new Error('stopped')
  }
  const first = acks.add(broken)
  const second = acks.add(item(dir, 'b', events))
  await new Promise((r) => setImmediate(r))
  stop.abort()
  await acks.drain()
  await Promise.all([first, second])
  assert.deepEqual(events, ['rewrite a'], 'neither a nor b acknowledged: both come again from the source')
  assert.ok(existsSync(path.join(dir, 'a')), 'the written file is left where it is')
})

test('full() says when deliveries should wait, and passEnd() wakes them when a pass ends', async (t) => {
  const dir = tempDir(t)
  const events: string[] = []
  let release: () => void = () => {}
  const held = new Promise<void>((r) => {
    release = r
  })
  const acks = new AckAfterSync(dir, silent, new AbortController().signal, async () => held)
  const big: Written = { ...item(dir, 'big', events), bytes: 64 * 1024 * 1024 }
  const done = acks.add(big)
  assert.equal(acks.full(), true, 'more bytes wait for their sync than allowed')
  const woken = acks.passEnd(60_000)
  release()
  await woken
  await done
  assert.equal(acks.full(), false)
  assert.deepEqual(events, ['ack big'])
})

test('an acknowledgement that throws (a bug): nothing after it is acknowledged, and the loop goes on settling', async (t) => {
  const dir = tempDir(t)
  const events: string[] = []
  const acks = new AckAfterSync(dir, silent, new AbortController().signal, syncOpenFiles)
  const bad = item(dir, 'a', events)
  bad.ack = async () => {
    throw new TypeError('a bug')
  }
  const done = [acks.add(bad), acks.add(item(dir, 'b', events))]
  await Promise.all(done)
  await acks.add(item(dir, 'c', events))
  await acks.drain()
  assert.deepEqual(events, [], 'b and c come again from the source rather than being committed past a')
})
