import type { Logger } from './log.js'

export interface SignalHandle {
  /** Resolves on the first SIGINT/SIGTERM. */
  stopped: Promise<void>
  /** Has a stop signal arrived? */
  readonly wasSignalled: boolean
  dispose(): void
}

/**
 * First SIGINT/SIGTERM: graceful stop (onStop). Second: onForce (give back
 * claims synchronously) and exit at once. After a graceful stop, an unref'd
 * watchdog ends a process that failed to exit on its own.
 */
export function installSignals(opts: {
  log: Logger
  onStop: () => Promise<void>
  onForce: () => number
}): SignalHandle {
  let count = 0
  let resolveStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve
  })
  const handler = (signal: NodeJS.Signals): void => {
    count++
    if (count === 1) {
      opts.log.info(
        { signal },
        'stopping: no new claims; in-flight batches may finish (signal again to force)',
      )
      resolveStopped()
      void opts.onStop().then(() => {
        const watchdog = setTimeout(() => {
          opts.log.warn('process did not exit after stopping; forcing exit')
          process.exit(0)
        }, 10_000)
        watchdog.unref()
      })
      return
    }
    const released = opts.onForce()
    opts.log.warn({ signal, released }, 'forced exit; claims held were given back')
    process.exit(130)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    stopped,
    get wasSignalled() {
      return count > 0
    },
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
