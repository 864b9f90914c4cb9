import { unknownEnv } from '../core/config.js'
import { describeError, ErrorCodes, isLrError } from '../core/errors.js'
import { parseCli } from './args.js'
import { limitHeapGrowth } from './heap.js'

limitHeapGrowth()

// Each command's module is loaded when that command runs: `enqueue` or `status` need not load
// the Kafka, RabbitMQ, Redis, ClickHouse and MySQL clients (start-up is module loading).

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
      return (await import('./start.js')).runStart(args, { role: 'start' })
    case 'work':
      return (await import('./start.js')).runStart(args, { role: 'work' })
    case 'prefetch':
      return (await import('./start.js')).runStart(args, { role: 'prefetch' })
    case 'dispatch':
      return (await import('./dispatch.js')).runDispatch(args)
    case 'janitor':
      return (await import('./janitor.js')).runJanitor(args)
    case 'doctor':
      return (await import('./doctor.js')).runDoctor(args)
    case 'migrate':
      return (await import('./migrate.js')).runMigrate(args)
    case 'handoff':
      return args.flags.release
        ? (await import('./recover.js')).runHandoffRelease(args)
        : (await import('./handoff.js')).runHandoff(args)
    case 'retry':
      return (await import('./recover.js')).runRetry(args)
    case 'inspect':
      return (await import('./recover.js')).runInspect(args)
    case 'enqueue':
      return (await import('./enqueue.js')).runEnqueue(args)
    case 'status':
      return (await import('./status.js')).runStatus(args)
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
    // `start --once` is one-shot too: it has drained and said so.
    if (!SERVICES.has(process.argv[2] ?? '') || process.argv.includes('--once')) exitSoon(code)
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
