import pino, { type Logger } from 'pino'

export type { Logger }

/**
 * One root logger per process; components take `log.child({ component })`.
 * Human-readable (pino-pretty) when stdout is a terminal, JSON lines otherwise.
 */
export function createLogger(level = process.env.LR_LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.LR_LOG_FORMAT !== 'json'
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true },
      },
    })
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }))
}
