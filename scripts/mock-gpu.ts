/**
 * The mock GPU entity service: the stand-in for the real one in tests and
 * benchmarks. It serves the original contract
 *   POST / {"data_list":[{doc_id,text}]} -> [{doc_id, ent_list, maaped_ent}] | {"detail": ...}
 * and the Hugging Face token-classification shape
 *   POST / {"inputs":[text,...]} -> [[{entity_group, word, start, end, score}], ...]
 * with a capacity (calls served at once), latency per call and per document,
 * what happens over capacity (reset, 503, 429 + Retry-After) and injected
 * faults (500s, resets, hangs). GET /stats: calls, docs, rejected, max in
 * flight, busy time. Run alone: `node dist/scripts/mock-gpu.js --capacity 4 --call-ms 20`.
 */
import http from 'node:http'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { loadDictionary } from '../src/adapters/entities-tsv.js'
import { AhoCorasick } from '../src/recognize/builtin/aho-corasick.js'

export type OverCapacity = 'reset' | '503' | '429' | 'queue'

export interface MockGpuOptions {
  port: number
  /** Calls served at once; more are refused as `over` says (or queued with `queue`). */
  capacity: number
  callMs: number
  docMs: number
  over: OverCapacity
  retryAfterS: number
  /** Probabilities per accepted call. */
  failRate: number
  resetRate: number
  hangRate: number
  /** A call with more documents than this answers 413 {"detail": "batch too large"}. 0 = no limit. */
  maxDocsPerCall: number
  entitiesPath: string
  /** Keep a timeline of every call (when it began and ended, refusals) in the stats. Default false. */
  timeline: boolean
  /** Programmatic use only: told the doc_ids of each call it accepts (tests use it to act mid-call). */
  onCall?: (docIds: string[]) => void
}

export interface MockGpuStats {
  calls: number
  docs: number
  rejected: number
  failed: number
  resets: number
  hangs: number
  tooLarge: number
  inFlight: number
  maxInFlight: number
  /** Sum of the service time of accepted calls (slot-milliseconds). */
  busyMs: number
  elapsedMs: number
  /** From the first accepted call to the end of the last one: the window the service was in use. */
  activeMs: number
  /** doc_id -> times it was served successfully. */
  servedByDoc: Record<string, number>
  /** With `timeline`: each accepted call's [began, ended] and each refusal, in ms since the first call. */
  timeline?: SlotTimeline
}

export interface SlotTimeline {
  calls: [began: number, ended: number][]
  refused: number[]
}

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')

export const mockDefaults: MockGpuOptions = {
  port: 0,
  capacity: 4,
  callMs: 20,
  docMs: 0,
  over: 'reset',
  retryAfterS: 1,
  failRate: 0,
  resetRate: 0,
  hangRate: 0,
  maxDocsPerCall: 0,
  entitiesPath: path.join(root, 'data', 'entities', 'entities.tsv'),
  timeline: false,
}

export interface MockGpu {
  url: string
  /** Change latency, capacity or faults while it runs. */
  configure(changes: Partial<MockGpuOptions>): void
  stats(): MockGpuStats
  resetStats(): void
  close(): Promise<void>
}

interface Entity {
  text: string
  type: string
  start: number
  end: number
}

export async function startMockGpu(partial: Partial<MockGpuOptions> = {}): Promise<MockGpu> {
  const o: MockGpuOptions = { ...mockDefaults, ...partial }
  const dict = loadDictionary(o.entitiesPath)
  const matcher = new AhoCorasick(dict.map((e) => e.surface))
  const recognize = (text: string): { ents: Entity[]; mapped: { text: string; id: string }[] } => {
    const ents: Entity[] = []
    const mapped: { text: string; id: string }[] = []
    for (const m of matcher.find(text)) {
      const e = dict[m.pattern]
      if (!e) continue
      const surface = text.slice(m.start, m.end)
      ents.push({ text: surface, type: e.type, start: m.start, end: m.end })
      mapped.push({ text: surface, id: e.id })
    }
    return { ents, mapped }
  }

  let stats = fresh()
  let startedAt = Date.now()
  let inFlight = 0
  let firstCallAt: number | undefined
  const queued: (() => void)[] = []
  const hung = new Set<http.ServerResponse>()

  function fresh(): MockGpuStats {
    return {
      calls: 0,
      docs: 0,
      rejected: 0,
      failed: 0,
      resets: 0,
      hangs: 0,
      tooLarge: 0,
      inFlight: 0,
      maxInFlight: 0,
      busyMs: 0,
      elapsedMs: 0,
      activeMs: 0,
      servedByDoc: {},
      ...(o.timeline ? { timeline: { calls: [], refused: [] } } : {}),
    }
  }

  const send = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    })
    res.end(text)
  }

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      return send(res, 200, { ...stats, inFlight, elapsedMs: Date.now() - startedAt })
    }
    if (req.method === 'POST' && req.url === '/stats/reset') {
      stats = fresh()
      firstCallAt = undefined
      startedAt = Date.now()
      return send(res, 200, { ok: true })
    }
    if (req.method !== 'POST') return send(res, 404, { detail: 'not found' })
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => void serve(Buffer.concat(chunks).toString('utf8'), req, res))
  })

  async function serve(raw: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: { data_list?: { doc_id: string; text: string }[]; inputs?: string[] }
    try {
      body = JSON.parse(raw) as typeof body
    } catch {
      return send(res, 422, { detail: 'body is not JSON' })
    }
    const hf = Array.isArray(body.inputs)
    const docs = hf
      ? (body.inputs as string[]).map((text, i) => ({ doc_id: String(i), text }))
      : Array.isArray(body.data_list)
        ? body.data_list
        : null
    if (!docs || docs.some((d) => typeof d?.text !== 'string')) {
      return send(res, 422, { detail: 'expected {"data_list":[{doc_id,text}]} or {"inputs":[text]}' })
    }
    if (inFlight >= o.capacity) {
      if (o.over === 'queue') {
        await new Promise<void>((resolve) => queued.push(resolve))
      } else {
        stats.rejected++
        stats.timeline?.refused.push(performance.now() - (firstCallAt ?? performance.now()))
        if (o.over === 'reset') return void req.socket.destroy()
        return send(
          res,
          Number(o.over),
          { detail: 'over capacity' },
          { 'retry-after': String(o.retryAfterS) },
        )
      }
    }
    inFlight++
    stats.calls++
    o.onCall?.(docs.map((d) => d.doc_id))
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight)
    const began = performance.now()
    firstCallAt ??= began
    const release = () => {
      inFlight--
      const end = performance.now()
      stats.busyMs += end - began
      stats.activeMs = end - (firstCallAt ?? began)
      const first = firstCallAt ?? began
      stats.timeline?.calls.push([began - first, end - first])
      queued.shift()?.()
    }
    if (o.maxDocsPerCall > 0 && docs.length > o.maxDocsPerCall) {
      stats.tooLarge++
      release()
      return send(res, 413, {
        detail: `batch too large: ${docs.length} documents, at most ${o.maxDocsPerCall}`,
      })
    }
    const roll = Math.random()
    await new Promise((r) => setTimeout(r, o.callMs + o.docMs * docs.length))
    if (roll < o.hangRate) {
      // Holds its slot until the client gives up (or the server closes).
      stats.hangs++
      hung.add(res)
      res.on('close', () => {
        hung.delete(res)
        release()
      })
      return
    }
    if (roll < o.hangRate + o.resetRate) {
      release()
      stats.resets++
      return void req.socket.destroy()
    }
    if (roll < o.hangRate + o.resetRate + o.failRate) {
      release()
      stats.failed++
      return send(res, 500, { detail: 'CUDA error: an illegal memory access was encountered' })
    }
    stats.docs += docs.length
    for (const d of docs) stats.servedByDoc[d.doc_id] = (stats.servedByDoc[d.doc_id] ?? 0) + 1
    // The answer is the service's work: a call holds its slot until its reply is built and
    // handed to the socket, as a real service's request is in flight until it has answered.
    // (Released before the replies were built, the mock counted ~1 ms of each call as idle and
    // admitted a call over capacity meanwhile: bench/RESULTS.md, eighth session.)
    send(
      res,
      200,
      hf
        ? docs.map((d) =>
            recognize(d.text).ents.map((e) => ({
              entity_group: e.type,
              word: e.text,
              start: e.start,
              end: e.end,
              score: 0.99,
            })),
          )
        : docs.map((d) => {
            const r = recognize(d.text)
            return { doc_id: d.doc_id, ent_list: r.ents, maaped_ent: r.mapped }
          }),
    )
    release()
  }

  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(o.port, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}/`,
    configure: (changes) => {
      Object.assign(o, changes)
    },
    stats: () => ({ ...stats, inFlight, elapsedMs: Date.now() - startedAt }),
    resetStats: () => {
      stats = fresh()
      firstCallAt = undefined
      startedAt = Date.now()
    },
    close: async () => {
      for (const res of hung) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8000' },
      capacity: { type: 'string' },
      'call-ms': { type: 'string' },
      'doc-ms': { type: 'string' },
      over: { type: 'string' },
      'retry-after-s': { type: 'string' },
      'fail-rate': { type: 'string' },
      'reset-rate': { type: 'string' },
      'hang-rate': { type: 'string' },
      'max-docs-per-call': { type: 'string' },
      timeline: { type: 'boolean' },
    },
  })
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v))
  const over = (values.over ?? mockDefaults.over) as OverCapacity
  if (!['reset', '503', '429', 'queue'].includes(over)) throw new Error('--over: reset, 503, 429 or queue')
  const gpu = await startMockGpu({
    port: num(values.port, 8000),
    capacity: num(values.capacity, mockDefaults.capacity),
    callMs: num(values['call-ms'], mockDefaults.callMs),
    docMs: num(values['doc-ms'], mockDefaults.docMs),
    over,
    retryAfterS: num(values['retry-after-s'], mockDefaults.retryAfterS),
    failRate: num(values['fail-rate'], 0),
    resetRate: num(values['reset-rate'], 0),
    hangRate: num(values['hang-rate'], 0),
    maxDocsPerCall: num(values['max-docs-per-call'], 0),
    timeline: values.timeline ?? false,
  })
  process.stdout.write(`mock GPU service listening on ${gpu.url} (GET ${gpu.url}stats)\n`)
  const stop = () => void gpu.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
