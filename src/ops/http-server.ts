import { timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { Service } from '../core/contracts.js'
import { describeError } from '../core/errors.js'
import { type Logger, recentProblems } from '../core/log.js'
import type { Metrics } from './metrics.js'
import type { StatusSnapshot } from './status.js'

const dashboardFile = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  '..',
  '..',
  'public',
  'dashboard.html',
)

export interface StatusServerOptions {
  /** `host:port` (port 0: any free port). */
  listen: string
  /** When set, every request must carry it (Authorization: Bearer, or ?token=). */
  token: string | null
  status(): Promise<StatusSnapshot>
  metrics: Metrics
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
