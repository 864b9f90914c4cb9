import { AbortedError } from '../core/errors.js'

/**
 * Who may run in this process right now. Ordinary batches run side by side; a
 * suspect batch (put back after its owner died) runs alone: once it asks, no
 * ordinary batch starts, and it starts when those in flight have ended. One
 * suspect at a time: a second one is given back to wait its turn.
 */
export class SoloGate {
  private normal = 0
  private solo: 'none' | 'waiting' | 'running' = 'none'
  private readonly waiters = new Set<() => void>()

  get soloActive(): boolean {
    return this.solo !== 'none'
  }

  private notify(): void {
    for (const w of this.waiters) w()
    this.waiters.clear()
  }

  private wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new AbortedError('stopped while waiting for a batch running alone'))
      const done = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        this.waiters.delete(done)
        reject(new AbortedError('stopped while waiting for a batch running alone'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(done)
    })
  }

  /** An ordinary batch starts: waits while a suspect is waiting or running. */
  async enterNormal(signal: AbortSignal): Promise<void> {
    while (this.solo !== 'none') await this.wait(signal)
    this.normal++
  }

  exitNormal(): void {
    this.normal--
    this.notify()
  }

  /** A suspect asks to run alone. False when another suspect holds the gate (give this one back). */
  tryEnterSolo(): boolean {
    if (this.solo !== 'none') return false
    this.solo = 'waiting'
    return true
  }

  /** After tryEnterSolo(): resolves once no ordinary batch is in flight. The caller calls exitSolo() in any case. */
  async soloReady(signal: AbortSignal): Promise<void> {
    while (this.normal > 0) await this.wait(signal)
    this.solo = 'running'
  }

  exitSolo(): void {
    this.solo = 'none'
    this.notify()
  }
}
