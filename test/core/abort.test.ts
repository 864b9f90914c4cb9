import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { childAbort } from '../../src/core/abort.js'

test('childAbort: aborts with its parent (and its reason), alone when asked, and lets go of the parent when disposed', () => {
  const parent = new AbortController()
  const a = childAbort(parent.signal)
  const b = childAbort(parent.signal)
  assert.equal(getEventListeners(parent.signal, 'abort').length, 2)

  a.abort(new Error('lost'))
  assert.equal(a.signal.aborted, true)
  assert.equal((a.signal.reason as Error).message, 'lost')
  assert.equal(parent.signal.aborted, false, 'the parent goes on')
  assert.equal(b.signal.aborted, false, 'a sibling goes on')

  a.dispose()
  a.dispose()
  assert.equal(getEventListeners(parent.signal, 'abort').length, 1, 'disposed: its listener is gone')

  parent.abort(new Error('stop'))
  assert.equal(b.signal.aborted, true)
  assert.equal((b.signal.reason as Error).message, 'stop')

  const late = childAbort(parent.signal)
  assert.equal(late.signal.aborted, true, 'a parent aborted already: aborted at once')
  assert.equal((late.signal.reason as Error).message, 'stop')
})
