import { hostname } from 'node:os'

/** Is a process with this pid alive on this machine? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The recorded owner (host, pid) was a process on this host that is gone. Another host's cannot be known. */
export function ownerIsGone(owner: { host: string; pid: number }): boolean {
  return owner.host === hostname() && owner.pid > 0 && owner.pid !== process.pid && !pidAlive(owner.pid)
}
