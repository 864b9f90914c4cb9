import pino, { type Logger } from 'pino'
import { ErrorCodes, LrError } from './errors.js'

export type { Logger }

export interface LogFileOptions {
  /** Base path; pino-roll appends `.1`, `.2`, ... and the extension `.log`. */
  file: string
  /** Rotate when a file reaches this size: `N` (MB) or `Nk`, `Nm`, `Ng`. */
  maxSize: string
  /** Rotated files kept besides the current one. */
  keep: number
}

export interface Problem {
  at: string
  level: 'warn' | 'error' | 'fatal'
  msg: string
  component?: string
  fields: Record<string, unknown>
}

/** The last warnings and errors of this process, newest last (the dashboard shows them). */
export const recentProblems: Problem[] = []
const MAX_PROBLEMS = 50
const LEVELS: Record<number, Problem['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' }

/** A pino hook: remember warn and above, then log as usual. */
const hooks = {
  logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void, level: number) {
    const name = LEVELS[level]
    if (name) {
      const [first, second] = args
      const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {}
      const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : ''
      const bindings = this.bindings() as { component?: string }
      recentProblems.push({
        at: new Date().toISOString(),
        level: name,
        msg,
        ...(bindings.component ? { component: bindings.component } : {}),
        fields,
      })
      if (recentProblems.length > MAX_PROBLEMS) recentProblems.shift()
    }
    method.apply(this, args)
  },
}

/** LR_LOG_FILE, LR_LOG_MAX_SIZE (10m), LR_LOG_KEEP (5); null when logs go to stdout. */
export function logFileOptions(env: NodeJS.ProcessEnv = process.env): LogFileOptions | null {
  const file = env.LR_LOG_FILE?.trim()
  if (!file) return null
  const maxSize = env.LR_LOG_MAX_SIZE?.trim() || '10m'
  if (!/^\d+[kmg]?$/i.test(maxSize)) {
    throw new LrError(
      ErrorCodes.config,
      `LR_LOG_MAX_SIZE=${JSON.stringify(maxSize)}: expected a size like 500k, 10m or 1g`,
    )
  }
  const keepRaw = env.LR_LOG_KEEP?.trim() || '5'
  if (!/^\d+$/.test(keepRaw) || Number(keepRaw) < 1 || Number(keepRaw) > 1000) {
    throw new LrError(
      ErrorCodes.config,
      `LR_LOG_KEEP=${JSON.stringify(keepRaw)}: expected a count from 1 to 1000`,
    )
  }
  return { file, maxSize: maxSize.toLowerCase(), keep: Number(keepRaw) }
}

/**
 * One root logger per process; components take `log.child({ component })`.
 * With LR_LOG_FILE: JSON lines into size-rotated files (pino-roll, in a worker thread).
 * Otherwise human-readable (pino-pretty) when stdout is a terminal, JSON lines otherwise.
 */
export function createLogger(level = process.env.LR_LOG_LEVEL ?? 'info'): Logger {
  const toFile = logFileOptions()
  if (toFile) {
    return pino(
      { level, base: { pid: process.pid }, hooks },
      pino.transport({
        target: 'pino-roll',
        options: {
          file: toFile.file,
          extension: '.log',
          size: toFile.maxSize,
          limit: { count: toFile.keep },
          mkdir: true,
        },
      }),
    )
  }
  const pretty = process.stdout.isTTY && process.env.LR_LOG_FORMAT !== 'json'
  if (pretty) {
    return pino({
      level,
      hooks,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true },
      },
    })
  }
  return pino({ level, base: { pid: process.pid }, hooks }, pino.destination({ dest: 1, sync: true }))
}
