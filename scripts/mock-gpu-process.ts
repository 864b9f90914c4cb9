import { spawn } from 'node:child_process'
import path from 'node:path'
import type { MockGpuStats } from './mock-gpu.js'

/** The repository (this file runs as dist/scripts/mock-gpu-process.js). */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')

/** The mock GPU service in a process of its own, as the real service runs: stats over HTTP. */
export interface GpuProcess {
  url: string
  stats(): Promise<MockGpuStats>
  resetStats(): Promise<void>
  close(): Promise<void>
}

/**
 * Start `scripts/mock-gpu.js` as a child process. In the bench's own process the service's
 * event loop shared the bench's (spawning and timing the contenders), and its gaps counted as
 * the client's: leftright alone kept a separate mock 94% busy where the in-process one said
 * 89% (bench/RESULTS.md).
 */
export async function startGpuProcess(o: {
  capacity: number
  callMs: number
  docMs: number
  over: 'reset' | '503' | '429' | 'queue'
  /** Keep each call's slot time in the stats (`timeline`). */
  timeline?: boolean
}): Promise<GpuProcess> {
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'dist', 'scripts', 'mock-gpu.js'),
      '--port',
      '0',
      '--capacity',
      String(o.capacity),
      '--call-ms',
      String(o.callMs),
      '--doc-ms',
      String(o.docMs),
      '--over',
      o.over,
      ...(o.timeline ? ['--timeline'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let seen = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      seen += c
      const m = /listening on (\S+)/.exec(seen)
      if (m?.[1]) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`mock GPU exited (${code}) before listening: ${seen}`)))
  })
  return {
    url,
    stats: async () => (await (await fetch(`${url}stats`)).json()) as MockGpuStats,
    resetStats: async () => {
      await fetch(`${url}stats/reset`, { method: 'POST' })
    },
    close: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}
