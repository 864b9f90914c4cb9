import pino, { type Logger } from 'pino'
import { defaults, type Settings } from './settings.js'

export type { Logger }

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

/** The logging settings (LR_LOG_*), parsed with the others in settings.ts. */
export type LogSettings = Pick<Settings, 'logLevel' | 'logFormat' | 'logFile' | 'logMaxSize' | 'logKeep'>

/**
 * One root logger per process; components take `log.child({ component })`.
 * With LR_LOG_FILE: JSON lines into size-rotated files (pino-roll, in a worker thread).
 * Otherwise human-readable (pino-pretty) when stdout is a terminal (or LR_LOG_FORMAT=pretty),
 * JSON lines otherwise (or LR_LOG_FORMAT=json).
 */
export function createLogger(s: LogSettings = defaults): Logger {
  const level = s.logLevel
  if (s.logFile) {
    return pino(
      { level, base: { pid: process.pid }, hooks },
      pino.transport({
        target: 'pino-roll',
        options: {
          file: s.logFile,
          extension: '.log',
          size: s.logMaxSize,
          limit: { count: s.logKeep },
          mkdir: true,
        },
      }),
    )
  }
  const pretty = s.logFormat === 'pretty' || (s.logFormat === 'auto' && process.stdout.isTTY)
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
