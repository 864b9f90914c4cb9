import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
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
 * is not waited for, and its file is removed by the next reader. `status` shows them, with how far
 * each has read its input (`progress`, rewritten at most once a second).
 */
export interface Writer {
  host: string
  pid: number
  what: string
  since: string
  progress?: WriterProgress & { at: string }
}

/** How far a writer has got: input bytes read of the total (0 when unknown: a pipe), documents and batches written. */
export interface WriterProgress {
  bytesRead: number
  totalBytes: number
  docs: number
  batches: number
}

/** The share of its input a writer has read, in whole percent; null when the size is unknown (a pipe). */
export function percentRead(p: WriterProgress): number | null {
  return p.totalBytes > 0 ? Math.min(100, Math.floor((100 * p.bytesRead) / p.totalBytes)) : null
}

export interface WriterHandle {
  /** Record how far it has got (written at most once a second). */
  report(progress: WriterProgress): void
  /** Done writing: the file goes (also when the process exits). Idempotent. */
  release(): void
}

/** How often a writer's file is rewritten with its progress. */
const REPORT_EVERY_MS = 1000

const dirOf = (layout: Layout): string => path.join(layout.state, 'writers')

/** Say "I am writing into left/" until released (or the process ends). */
export function registerWriter(layout: Layout, what: string): WriterHandle {
  const dir = dirOf(layout)
  mkdirSync(dir, { recursive: true })
  const me: Writer = { host: hostname(), pid: process.pid, what, since: new Date().toISOString() }
  const file = path.join(dir, `${me.host}-${me.pid}${threadId ? `-${threadId}` : ''}.json`)
  writeFileSync(file, `${JSON.stringify(me)}\n`)
  let done = false
  let reportedAt = 0
  const release = (): void => {
    if (done) return
    done = true
    process.off('exit', release)
    try {
      unlinkSync(file)
    } catch {}
  }
  const report = (progress: WriterProgress): void => {
    const now = Date.now()
    if (done || now - reportedAt < REPORT_EVERY_MS) return
    reportedAt = now
    // Replaced whole (a rename): a reader, `start --once` deciding whether left/ is drained among
    // them, never finds the file missing or half written. Not a `.json` name meanwhile.
    const tmp = `${file}.tmp`
    try {
      writeFileSync(
        tmp,
        `${JSON.stringify({ ...me, progress: { ...progress, at: new Date(now).toISOString() } })}\n`,
      )
      renameSync(tmp, file)
    } catch {
      // Progress is for people watching; a full disk must not stop the writing itself.
      try {
        unlinkSync(tmp)
      } catch {}
    }
  }
  process.on('exit', release)
  return { report, release }
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
