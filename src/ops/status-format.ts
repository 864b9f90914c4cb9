import type { StatusSnapshot } from './status.js'

function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 && u > 0 ? 1 : 0)} ${units[u]}`
}

function humanSeconds(s: number): string {
  if (s < 90) return `${s}s`
  if (s < 5400) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`
  return `${(s / 86_400).toFixed(1)}d`
}

export function formatStatus(s: StatusSnapshot): string {
  const b = s.batches
  const d = s.docs
  const r = s.rates
  const lines = [
    `data dir  ${s.dataDir}`,
    `batches   pending ${b.pending}  claimed ${b.claimed} (stale ${b.stale})  done ${b.done}${s.ledger.batches ? ` (${s.ledger.batches} in the ledger)` : ''} (with failures ${b.failed})  handed-off ${b.handedOff}  bad ${b.bad}`,
    `documents pending ${d.pending}  claimed ${d.claimed}  done ${d.done} (ok ${d.ok}, failed ${d.failed}, re-sent ${d.repeats})  dead ${d.dead}  in bad/ ${d.bad}`,
    `rate      ${r.m1.toFixed(1)} / ${r.m5.toFixed(1)} / ${r.m15.toFixed(1)} docs/s (1 / 5 / 15 min)  ETA ${s.etaSeconds === null ? '-' : humanSeconds(s.etaSeconds)}`,
  ]
  if (s.source) {
    const src = s.source
    lines.push(
      'error' in src
        ? `source    ${src.name}: lag unknown (${src.error})`
        : `source    ${src.name}: ${src.total} not yet acknowledged (${Object.entries(src.parts)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`,
    )
  }
  if (s.disk) {
    lines.push(
      `disk      ${humanBytes(s.disk.freeBytes)} free of ${humanBytes(s.disk.totalBytes)}${s.disk.low ? '  LOW (under LR_MIN_FREE_DISK)' : ''}`,
    )
  }
  if (s.paused) lines.push(`paused: ${s.paused}`)
  for (const w of s.writers) {
    const p = w.progress
    const read = !p
      ? ''
      : `: ${p.docs} documents in ${p.batches} batches, ${humanBytes(p.bytesRead)} read` +
        (p.percentRead !== null ? ` of ${humanBytes(p.totalBytes)} (${p.percentRead}%)` : '')
    lines.push(`writing   into left/: ${w.what} (${w.host} pid ${w.pid}) since ${w.since}${read}`)
  }
  if (s.oldestClaim) {
    const o = s.oldestClaim
    lines.push(`oldest claim ${o.batch} by ${o.host} pid ${o.pid}, ${Math.round(o.ageMs / 1000)}s ago`)
  }
  if (s.gpu) {
    const g = s.gpu
    lines.push(
      `gpu cap   limit ${g.limit} of ${g.max}, ${g.inFlight} in flight, circuit ${g.circuit}, ${g.overloads} overload answers (pid ${g.pid})`,
    )
  }
  for (const [dep, o] of Object.entries(s.dependencies)) {
    lines.push(`DOWN      ${dep} since ${o.since}: ${o.error} (${o.waiting})`)
  }
  const p = s.prefetch
  if (p) {
    const state = !p.running ? 'not running' : p.paused ? `PAUSED (${p.paused})` : 'running'
    lines.push(`prefetch  ${state} since ${p.since} (${p.host} pid ${p.pid})`)
  }
  return lines.join('\n')
}
