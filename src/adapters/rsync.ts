import { spawn } from 'node:child_process'
import { HandoffError } from '../core/errors.js'

/** Run rsync with these arguments; resolves with stdout, rejects with its stderr's last line. */
export function rsync(args: string[], signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('rsync', args, { stdio: ['ignore', 'pipe', 'pipe'], signal })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c
    })
    child.on('error', (e) => {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT'
      reject(
        new HandoffError(missing ? 'rsync is not installed on this box' : `rsync: ${e.message}`, {
          cause: e,
        }),
      )
    })
    child.on('close', (code) => {
      if (code === 0) return resolve(out)
      const last = err.trim().split('\n').pop() ?? ''
      reject(new HandoffError(`rsync exited ${code}: ${last}`, { retryable: true }))
    })
  })
}

/** `host:path` (or `user@host:path`) is remote; anything else is a local folder. */
export function isRemote(dest: string): boolean {
  return /^[^/]*:/.test(dest) && !/^[A-Za-z]:\\/.test(dest)
}
