import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { threadId } from 'node:worker_threads'
import { ownerIsGone } from '../core/pid.js'
import type { Layout } from './layout.js'

/**
 * state/writers/<host>-<pid>[-<thread>].json: a process (or one of its threads) that is writing
 * batch files into left/ right now (`enqueue`, or `start FILE...`). `start --once` is not drained
 * while one lives, so the two can run side by side: start works on the first batches while
 * enqueue is still reading its input. A writer that died (its pid gone on this host)
 * is not waited for, and its file is removed by the next reader.
 */
export interface Writer {
  host: string
  pid: number
  what: string
  since: string
}

const dirOf = (layout: Layout): string => path.join(layout.state, 'writers')

/** Say "I am writing into left/" until the returned function is called (or the process ends). */
export function registerWriter(layout: Layout, what: string): () => void {
  const dir = dirOf(layout)
  mkdirSync(dir, { recursive: true })
  const me: Writer = { host: hostname(), pid: process.pid, what, since: new Date().toISOString() }
  const file = path.join(dir, `${me.host}-${me.pid}${threadId ? `-${threadId}` : ''}.json`)
  writeFileSync(file, `${JSON.stringify(me)}\n`)
  let done = false
  const release = (): void => {
    if (done) return
    done = true
    process.off('exit', release)
    try {
      unlinkSync(file)
    } catch {}
  }
  process.on('exit', release)
  return release
}

/** Writers alive now. On this host a pid that is gone means a writer that died: its file is removed. */
export function liveWriters(layout: Layout): Writer[] {
  const dir = dirOf(layout)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const live: Writer[] = []
  for (const name of names) {
    if (!name.endsWith('.json')) continue
    const file = path.join(dir, name)
    let w: Writer
    try {
      w = JSON.parse(readFileSync(file, 'utf8')) as Writer
    } catch {
      continue
    }
    if (ownerIsGone(w)) {
      try {
        unlinkSync(file)
      } catch {}
      continue
    }
    live.push(w)
  }
  return live
}
