import { unknownEnv } from '../core/config.js'
import { describeError, ErrorCodes, isLrError } from '../core/errors.js'
import { parseCli } from './args.js'
import { runDispatch } from './dispatch.js'
import { runDoctor } from './doctor.js'
import { runEnqueue } from './enqueue.js'
import { runHandoff } from './handoff.js'
import { runJanitor } from './janitor.js'
import { runMigrate } from './migrate.js'
import { runHandoffRelease, runInspect, runRetry } from './recover.js'
import { runStart } from './start.js'
import { runStatus } from './status.js'

async function main(argv: string[]): Promise<number> {
  const request = parseCli(argv)
  if (request.kind === 'print') {
    process.stdout.write(`${request.text}\n`)
    return 0
  }
  const args = request.args
  for (const { name, closest } of unknownEnv()) {
    process.stderr.write(
      `leftright: warning: ${name} is not a setting (did you mean ${closest}?); it is ignored\n`,
    )
  }
  switch (args.command) {
    case 'start':
      return runStart(args, { role: 'start' })
    case 'work':
      return runStart(args, { role: 'work' })
    case 'prefetch':
      return runStart(args, { role: 'prefetch' })
    case 'dispatch':
      return runDispatch(args)
    case 'janitor':
      return runJanitor(args)
    case 'doctor':
      return runDoctor(args)
    case 'migrate':
      return runMigrate(args)
    case 'handoff':
      return args.flags.release ? runHandoffRelease(args) : runHandoff(args)
    case 'retry':
      return runRetry(args)
    case 'inspect':
      return runInspect(args)
    case 'enqueue':
      return runEnqueue(args)
    case 'status':
      return runStatus(args)
    default:
      process.stderr.write(`leftright: unknown command "${args.command}" (try: leftright help)\n`)
      return 2
  }
}

/** Commands that run until stopped; every other command is one-shot. */
const SERVICES = new Set(['start', 'work', 'prefetch', 'janitor'])

/**
 * A one-shot command has said its last line: a client library's handle left open
 * (a broker that never answers, a pool still closing) must not keep the process up.
 */
function exitSoon(code: number): void {
  setTimeout(() => process.exit(code), 2000).unref()
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    if (!SERVICES.has(process.argv[2] ?? '')) exitSoon(code)
  },
  (err: unknown) => {
    if (isLrError(err, ErrorCodes.config) || isLrError(err, ErrorCodes.usage)) {
      process.stderr.write(`leftright: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    // One line; the stack only when asked for (LR_LOG_LEVEL=debug).
    const detail = process.env.LR_LOG_LEVEL === 'debug' && err instanceof Error ? `\n${err.stack}` : ''
    process.stderr.write(`leftright: ${describeError(err)}${detail}\n`)
    process.exitCode = 1
    exitSoon(1)
  },
)
