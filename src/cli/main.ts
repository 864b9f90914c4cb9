import { unknownEnv } from '../core/config.js'
import { ErrorCodes, isLrError } from '../core/errors.js'
import { parseCli, usage } from './args.js'
import { runDispatch } from './dispatch.js'
import { runDoctor } from './doctor.js'
import { runEnqueue } from './enqueue.js'
import { runHandoff } from './handoff.js'
import { runJanitor } from './janitor.js'
import { runStart } from './start.js'
import { runStatus } from './status.js'

async function main(argv: string[]): Promise<number> {
  const args = parseCli(argv)
  for (const { name, closest } of unknownEnv()) {
    process.stderr.write(
      `leftright: warning: ${name} is not a setting (did you mean ${closest}?); it is ignored\n`,
    )
  }
  if (args.flags.help || args.command === 'help' || args.command === '--help') {
    process.stdout.write(`${usage}\n`)
    return 0
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
    case 'handoff':
      return runHandoff(args)
    case 'enqueue':
      return runEnqueue(args)
    case 'status':
      return runStatus(args)
    default:
      process.stderr.write(`leftright: unknown command "${args.command}" (try: leftright help)\n`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (isLrError(err, ErrorCodes.config) || isLrError(err, ErrorCodes.usage)) {
      process.stderr.write(`leftright: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    process.stderr.write(
      `leftright: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    process.exitCode = 1
  },
)
