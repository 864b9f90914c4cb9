import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { repoRoot, runCli } from '../helpers.js'

test('per-command --help names its flags and an example; --version prints the version; help settings lists every setting', async (t) => {
  const help = runCli(t, ['handoff', '--help'])
  assert.equal((await help.exited).code, 0)
  const text = help.stdout.join('\n')
  for (const part of ['--to <dest>', '--count <n>', '--release', 'Example:', 'leftright handoff --to']) {
    assert.ok(text.includes(part), `handoff --help shows ${part}`)
  }
  assert.ok(!text.includes('--gpu-concurrency'), 'settings are not repeated in every command help')
  const version = runCli(t, ['--version'])
  assert.equal((await version.exited).code, 0)
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
  assert.deepEqual(version.stdout.filter(Boolean), [pkg.version])
  const settings = runCli(t, ['help', 'settings'])
  assert.equal((await settings.exited).code, 0)
  assert.match(settings.stdout.join('\n'), /--gpu-concurrency \(LR_GPU_CONCURRENCY\)/)
})
