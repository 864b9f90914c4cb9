import { loadSettings } from '../core/config.js'
import { doctorChecks } from '../ops/doctor.js'
import type { ParsedArgs } from './args.js'

/** One line per check; exit 0 only when every check that applies passes. */
export async function runDoctor(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  process.stdout.write('ok    settings: every setting parsed\n')
  let failed = 0
  for (const check of doctorChecks(settings)) {
    const r = await check.run()
    if (r.ok === 'skip') process.stdout.write(`skip  ${check.name}: ${r.detail}\n`)
    else if (r.ok) process.stdout.write(`ok    ${check.name}: ${r.detail}\n`)
    else {
      failed++
      process.stdout.write(`FAIL  ${check.name}: ${r.detail}\n      fix: ${r.fix}\n`)
    }
  }
  process.stdout.write(failed ? `${failed} check(s) failed\n` : 'all checks passed\n')
  return failed ? 1 : 0
}
