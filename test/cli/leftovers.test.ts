import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { repoRoot, tempDir } from '../helpers.js'

const fixture = path.join(repoRoot, 'dist', 'test', 'fixtures', 'cancelled-test-file.js')

/** Running (a zombie waiting to be reaped has ended). */
const alive = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z'
  } catch {
    return false
  }
}

const mounted = (dir: string): boolean =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir)

// Its own timeout: the check below waits for the processes to end, which they never do without the fix.
test('a test file cancelled at its timeout leaves no CLI child, broker, tmpfs mount or temp folder behind', {
  timeout: 60_000,
}, async (t) => {
  const out = path.join(tempDir(t), 'leftovers.json')
  // A test run of its own: without NODE_TEST_CONTEXT, which would make it report to this one.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const child = spawn(process.execPath, ['--test', '--test-reporter=tap', '--test-timeout=10000', fixture], {
    cwd: repoRoot,
    env: { ...env, LR_LEFTOVERS_FILE: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    output += c
  })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  assert.match(output, /# cancelled 1/, output)
  assert.notEqual(code, 0)
  const left = JSON.parse(readFileSync(out, 'utf8')) as { pids: number[]; disk: string; dir: string }
  assert.ok(left.pids.length >= 2, `the fixture started the CLI and kcat: ${left.pids}`)
  // Killed with SIGKILL when the file's process exits: gone at once.
  while (left.pids.some(alive)) await new Promise((r) => setTimeout(r, 50))
  assert.equal(mounted(left.disk), false, `${left.disk} is still mounted`)
  assert.equal(existsSync(left.disk), false)
  assert.equal(existsSync(left.dir), false)
})
