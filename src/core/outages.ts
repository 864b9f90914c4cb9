import type { Logger } from './log.js'

/** A dependency leftright waits on: the entity service, the sink, the mapping table, the disk, the source. */
export type Dependency = 'entity service' | 'sink' | 'mapping' | 'disk' | 'source'

export interface OutageState {
  since: string
  /** The error that started it (one line). */
  error: string
  /** What waits on it. */
  waiting: string
}

/**
 * Outages, reported once each: one WARN when a dependency becomes unreachable
 * (with the error and what waits on it), one INFO when it is back (with how long
 * it lasted). Many failures in between say nothing more. `snapshot()` feeds
 * status, /status and the dashboard.
 */
export class Outages {
  private readonly down = new Map<Dependency, OutageState & { sinceMs: number }>()

  constructor(private readonly log: Logger) {}

  /** `dep` failed in a way that says it is unreachable (not a problem of one document). */
  failed(dep: Dependency, err: unknown, waiting: string): void {
    if (this.down.has(dep)) return
    const error = err instanceof Error ? err.message : String(err)
    this.down.set(dep, { since: new Date().toISOString(), sinceMs: Date.now(), error, waiting })
    const what = dep === 'disk' ? 'out of disk space' : `${dep} unreachable`
    this.log.warn({ dependency: dep, err, waiting }, `${what}: ${waiting} until it is back`)
  }

  /** `dep` answered again. */
  ok(dep: Dependency): void {
    const was = this.down.get(dep)
    if (!was) return
    this.down.delete(dep)
    const downMs = Date.now() - was.sinceMs
    const what = dep === 'disk' ? 'disk space is back' : `${dep} is back`
    this.log.info({ dependency: dep, downMs }, `${what} after ${Math.round(downMs / 1000)} s`)
  }

  isDown(dep: Dependency): boolean {
    return this.down.has(dep)
  }

  snapshot(): Partial<Record<Dependency, OutageState>> {
    const out: Partial<Record<Dependency, OutageState>> = {}
    for (const [dep, { since, error, waiting }] of this.down) out[dep] = { since, error, waiting }
    return out
  }
}
