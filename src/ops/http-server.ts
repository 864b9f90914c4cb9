import { timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { Service } from '../core/contracts.js'
import { describeError } from '../core/errors.js'
import { type Logger, recentProblems } from '../core/log.js'
import type { Layout } from '../store/layout.js'
import { collectJobs } from './jobs.js'
import type { Metrics } from './metrics.js'
import { inspectBatch } from './recover.js'
import type { StatusSnapshot } from './status.js'

const dashboardFile = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  '..',
  '..',
  'public',
  'dashboard.html',
)

const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GiB`

export interface StatusServerOptions {
  /** `host:port` (port 0: any free port). */
  listen: string
  /** When set, every request must carry it (Authorization: Bearer, or ?token=). */
  token: string | null
  status(): Promise<StatusSnapshot>
  metrics: Metrics
  /** The data dir: the job board and a batch's detail. */
  layout: Layout
  log: Logger
}

function tokenOk(req: http.IncomingMessage, url: URL, token: string): boolean {
  const auth = req.headers.authorization ?? ''
  const given = auth.startsWith('Bearer ') ? auth.slice(7) : (url.searchParams.get('token') ?? '')
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * /status (the JSON of `status --json`), /metrics (Prometheus text), / (the
 * dashboard) and /api/problems (this process's recent warnings and errors).
 * start() / idempotent stop(). A port already in use is one error line, not a crash.
 */
export class StatusServer implements Service {
  private server: http.Server | null = null
  private stopping: Promise<void> | null = null
  address: { host: string; port: number } | null = null

  constructor(private readonly opts: StatusServerOptions) {}

  /** Listen. A port in use is logged (one line) and the process goes on without the server (`address` stays null). */
  async start(): Promise<void> {
    const i = this.opts.listen.lastIndexOf(':')
    const host = this.opts.listen.slice(0, i) || '0.0.0.0'
    const port = Number(this.opts.listen.slice(i + 1))
    const server = http.createServer((req, res) => void this.handle(req, res))
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', (err) => {
        this.opts.log.error(
          { listen: this.opts.listen, err },
          'status HTTP server not started (set LR_HTTP to a free host:port, or off); the pool goes on without it',
        )
        resolve(false)
      })
      server.listen(port, host, () => resolve(true))
    })
    if (!ok) return
    server.unref()
    this.server = server
    const a = server.address() as AddressInfo
    this.address = { host: a.address, port: a.port }
    this.opts.log.info(
      { url: `http://${this.opts.listen.slice(0, i) || 'localhost'}:${a.port}/` },
      'dashboard, /status and /metrics',
    )
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      if (!this.server) return resolve()
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
    return this.stopping
  }

  /** Docs/s as this process measured it: a point every 2 s over 15 minutes, 10 s windows. */
  private history(): { stepMs: number; windowMs: number; points: { t: number; rate: number }[] } {
    return { stepMs: 2000, windowMs: 10_000, points: this.opts.metrics.throughput.series(2, 10) }
  }

  /** One state per dependency, for the health panel. */
  private async health(): Promise<Record<string, { state: 'up' | 'down' | 'warn' | 'off'; detail: string }>> {
    const s = await this.opts.status()
    const deps = s.dependencies
    const down = (name: string): { state: 'down'; detail: string } | null => {
      const o = deps[name as keyof typeof deps]
      return o ? { state: 'down', detail: `since ${o.since}: ${o.error}` } : null
    }
    const g = s.gpu
    const lag = await this.opts.metrics.sources
      .sourceLag()
      .catch((err: unknown) => ({ error: describeError(err) }))
    return {
      'entity service':
        down('entity service') ??
        (g
          ? {
              state: g.circuit === 'closed' ? 'up' : 'warn',
              detail: `circuit ${g.circuit}; ${g.inFlight} of ${g.limit} calls in flight (max ${g.max})`,
            }
          : { state: 'off', detail: 'no recognizer in this process' }),
      sink: down('sink') ?? down('mapping') ?? { state: 'up', detail: 'writing' },
      source:
        down('source') ??
        (lag === null
          ? { state: 'off', detail: 'no source: work comes from left/' }
          : 'error' in lag
            ? { state: 'warn', detail: lag.error }
            : { state: 'up', detail: `${lag.kind}: ${lag.total} not yet acknowledged` }),
      disk: s.disk
        ? {
            state: s.disk.low ? 'down' : 'up',
            detail: `${gib(s.disk.freeBytes)} free of ${gib(s.disk.totalBytes)}${s.disk.low ? ' (under LR_MIN_FREE_DISK)' : ''}`,
          }
        : { state: 'warn', detail: 'free space unknown' },
      prefetch: s.paused
        ? { state: 'warn', detail: `paused: ${s.paused}` }
        : { state: 'up', detail: 'not paused' },
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
      res.end(body)
    }
    try {
      if (this.opts.token && !tokenOk(req, url, this.opts.token)) {
        return send(401, 'text/plain', 'token required (Authorization: Bearer <LR_HTTP_TOKEN> or ?token=)\n')
      }
      if (req.method !== 'GET') return send(405, 'text/plain', 'GET only\n')
      switch (url.pathname) {
        case '/status':
          return send(200, 'application/json', JSON.stringify(await this.opts.status()))
        case '/metrics':
          return send(200, this.opts.metrics.registry.contentType, await this.opts.metrics.registry.metrics())
        case '/api/problems':
          return send(200, 'application/json', JSON.stringify(recentProblems))
        case '/api/history':
          return send(200, 'application/json', JSON.stringify(this.history()))
        case '/api/health':
          return send(200, 'application/json', JSON.stringify(await this.health()))
        case '/api/jobs':
          return send(200, 'application/json', JSON.stringify(await collectJobs(this.opts.layout)))
        case '/api/batch': {
          const id = url.searchParams.get('id') ?? ''
          const detail = await inspectBatch(this.opts.layout, id).catch((err: unknown) => ({
            error: describeError(err),
          }))
          return send('error' in detail ? 404 : 200, 'application/json', JSON.stringify(detail))
        }
        case '/':
        case '/index.html':
          return send(200, 'text/html; charset=utf-8', await readFile(dashboardFile, 'utf8'))
        default:
          return send(404, 'text/plain', 'not found: try /, /status or /metrics\n')
      }
    } catch (err) {
      send(500, 'text/plain', `${describeError(err)}\n`)
    }
  }
}
