import assert from 'node:assert/strict'
import { setMaxListeners } from 'node:events'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { startGpuProcess } from '../../scripts/mock-gpu-process.js'
import { RecognizeError } from '../../src/core/errors.js'
import { GpuThread } from '../../src/recognize/gpu-thread.js'
import { makeDocs, tempDir } from '../helpers.js'

/**
 * A GpuThread (cap 4) on the mock GPU service in a process of its own: a blocked main thread
 * here does not block the service.
 */
async function threadOnMockGpu(t: { after(fn: () => unknown): void }) {
  const gpu = await startGpuProcess({ capacity: 4, callMs: 20, docMs: 1, over: 'reset' })
  t.after(() => gpu.close())
  const thread = new GpuThread({
    http: { url: gpu.url, format: 'leftright', timeoutMs: 30_000, connections: 4 },
    cap: { max: 4 },
  })
  t.after(() => thread.close())
  return { thread, calls: async () => (await gpu.stats()).calls }
}

const never = new AbortController().signal
// One test makes 60 calls at once on it, each listening until it settles (as a batch's calls do).
setMaxListeners(100, never)

test('calls keep going out while the main thread is blocked: the client and its cap run in their own thread', async (t) => {
  const { thread, calls: served } = await threadOnMockGpu(t)
  const calls = Array.from({ length: 60 }, (_, i) => thread.recognize(makeDocs(16, `c${i}-`), never))
  await calls[0]
  const before = await served()
  // Half a second in which this thread runs nothing else (a long batch, a stalled disk, a GC pause).
  // A cap on this thread would start no call meanwhile: a slot freed by the service waits for it.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500)
  const during = (await served()) - before
  // At 36 ms a call and 4 at once, ~55 calls fit in 500 ms; without the thread, none start.
  assert.ok(during >= 20, `${during} calls started while the main thread was blocked`)
  const results = await Promise.all(calls)
  assert.equal(results.flat().length, 60 * 16)
  const snap = thread.snapshot()
  assert.equal(snap.ok, 60)
  assert.equal(snap.inFlight, 0)
})

test('a GPU thread that dies fails its calls as retryable; the next call starts a new thread', async (t) => {
  const dir = tempDir(t)
  const once = path.join(dir, 'died-once')
  // A stand-in for the thread: the first one dies at its first call; the next one answers.
  const script = path.join(dir, 'thread.mjs')
  writeFileSync(
    script,
    `import { existsSync, writeFileSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
const snap = { limit: 4, slowStart: false, lastCallAt: null, max: 4, inFlight: 0, circuit: 'closed', calls: 1, ok: 1, overloads: 0, failures: 0, decreases: 0, circuitOpens: 0 }
parentPort.on('message', (m) => {
  if (m.type === 'close') process.exit(0)
  if (m.type !== 'call') return
  if (!existsSync(${JSON.stringify(once)})) {
    writeFileSync(${JSON.stringify(once)}, '')
    process.exit(3)
  }
  parentPort.postMessage({ type: 'done', id: m.id, ok: m.docs.map((d) => ({ doc_id: d.doc_id, entities: [] })), snap })
})
`,
  )
  const died: string[] = []
  const thread = new GpuThread(
    {
      http: { url: 'http://127.0.0.1:9/', format: 'leftright', timeoutMs: 1000, connections: 1 },
      cap: { max: 4 },
    },
    { workerUrl: pathToFileURL(script), onDied: (err) => died.push(err.message) },
  )
  t.after(() => thread.close())
  await assert.rejects(
    thread.recognize(makeDocs(2), never),
    (err: unknown) => err instanceof RecognizeError && err.retryable && /thread stopped/.test(err.message),
  )
  const out = await thread.recognize(makeDocs(2), never)
  assert.deepEqual(
    out.map((r) => r.doc_id),
    makeDocs(2).map((d) => d.doc_id),
  )
  assert.equal(thread.snapshot().inFlight, 0)
  assert.deepEqual(died, ['entity service client thread stopped (exit code 3); its calls are retried'])
})

test('a cancelled call rejects at once as aborted, and the thread goes on with the others', async (t) => {
  const { thread } = await threadOnMockGpu(t)
  const stop = new AbortController()
  const cancelled = thread.recognize(makeDocs(16, 'x-'), stop.signal)
  const kept = thread.recognize(makeDocs(16, 'y-'), never)
  stop.abort()
  await assert.rejects(cancelled, (err: unknown) => (err as { code?: string }).code === 'LR_ABORTED')
  assert.equal((await kept).length, 16)
})
