import type { ChildProcess } from 'node:child_process'

/**
 * What a test file starts outside itself (CLI children, kcat brokers, tmpfs mounts) is undone in
 * `t.after`; a test cancelled at its timeout never runs its hooks, and the file's process then
 * exits with them still there (a `start` left running for an hour on a lazily unmounted tmpfs).
 * So each is also undone when the process exits, or is stopped by SIGINT or SIGTERM: synchronous
 * work only, as an 'exit' listener allows.
 */
const undo = new Set<() => void>()

function undoAll(): void {
  for (const fn of undo) {
    try {
      fn()
    } catch {
      // Gone already, or cannot be undone: the others still are.
    }
  }
  undo.clear()
}

let listening = false
function listen(): void {
  if (listening) return
  listening = true
  process.on('exit', undoAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      undoAll()
      process.kill(process.pid, signal)
    })
  }
}

/** Run `fn` when the process ends, unless the returned function (`done`) was called first. */
export function undoAtExit(fn: () => void): () => void {
  listen()
  undo.add(fn)
  return () => {
    undo.delete(fn)
  }
}

/** SIGKILL the child when the process ends, if it is still running then. */
export function killAtExit(child: ChildProcess): void {
  const done = undoAtExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  child.once('exit', done)
}
