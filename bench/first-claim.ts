import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import path from 'node:path'
import {
  againstBase,
  benchDatabase,
  cli,
  cliEnv,
  median,
  quick,
  runCliAt,
  table,
  writeSampleJsonl,
} from './common.js'

/**
 * `npm run bench -- first-claim [--base REV]`: seconds from spawning `start` on a data dir
 * with 100 pending batches to its first claim (the `claimed` debug line), this tree vs a
 * baseline revision, rounds alternated; with the file sink and with MySQL (builtin recognizer).
 */
export async function firstClaimScenario(): Promise<void> {
  const rounds = quick ? 2 : 7
  const { baseRev, work, base } = againstBase('first-claim')
  const db = await benchDatabase('firstclaim')
  const input = writeSampleJsonl(work, 10_000)
  const times: Record<string, number[]> = {}
  try {
    for (let round = 0; round < rounds; round++) {
      const who = round % 2 === 0 ? (['base', 'now'] as const) : (['now', 'base'] as const)
      for (const w of who) {
        for (const sink of ['file', 'mysql'] as const) {
          const bin = w === 'base' ? base.bin : cli
          const dataDir = path.join(work, `${w}-${sink}-${round}`)
          runCliAt(bin, ['enqueue', input, '--data-dir', dataDir])
          const env: Record<string, string> = sink === 'mysql' ? { LR_MYSQL_URL: db.url } : {}
          const key = `${sink}|${w}`
          times[key] = [...(times[key] ?? []), await untilFirstClaim(bin, dataDir, env)]
          rmSync(dataDir, { recursive: true, force: true })
        }
      }
    }
  } finally {
    base.remove()
    await db.drop()
    rmSync(work, { recursive: true, force: true })
  }
  console.log(
    `first-claim: start on 100 pending batches, builtin recognizer, ${rounds} round(s) alternated, medians; base = ${baseRev}`,
  )
  console.log(
    table(
      ['sink', 'base s', 'now s', 'now / base'],
      ['file', 'mysql'].map((s) => {
        const b = median(times[`${s}|base`] ?? [1])
        const n = median(times[`${s}|now`] ?? [1])
        return [s, b.toFixed(3), n.toFixed(3), `${(n / b).toFixed(2)}x`]
      }),
    ),
  )
}

function untilFirstClaim(bin: string, dataDir: string, env: Record<string, string>): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, [bin, 'start', '--data-dir', dataDir], {
    env: cliEnv({ ...env, LR_LOG_LEVEL: 'debug' }),
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let seen = ''
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      seen += c
      if (seen.includes('"msg":"claimed"')) {
        resolve((performance.now() - started) / 1000)
        child.kill('SIGKILL')
      }
    })
    child.on('exit', () => reject(new Error(`start exited before its first claim: ${seen.slice(-500)}`)))
  })
}
