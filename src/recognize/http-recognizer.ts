import { Pool } from 'undici'
import type { Entity, EntityType, Recognized, Recognizer } from '../core/contracts.js'
import { AbortedError, RecognizeError, type RecognizeErrorFields } from '../core/errors.js'

export type NerFormat = 'leftright' | 'hf'

export interface HttpRecognizerOptions {
  url: string
  format: NerFormat
  timeoutMs: number
  connections: number
}

/** No connection at all: the service is down or not there, which is no document's fault. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504])
const OVERLOAD_STATUSES = new Set([429, 503])
const NETWORK_OVERLOAD = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
])

function fail(
  message: string,
  retryable: boolean,
  fields: RecognizeErrorFields,
  cause?: unknown,
): RecognizeError {
  return new RecognizeError(message, { ...fields, retryable, cause })
}

/**
 * The GPU entity service over HTTP, through one keep-alive undici pool.
 * `leftright` format (the original contract):
 *   POST {"data_list":[{doc_id,text}]} -> [{doc_id, ent_list, maaped_ent | mapped_ent}] | {"detail": ...}
 * `hf` format (Hugging Face token classification):
 *   POST {"inputs":[text,...]} -> [[{entity_group, word, start, end, score}], ...] (by position)
 * Errors are RecognizeError, whose fields say what the cap should do (overload,
 * retryAfterMs) and whether the call was too large (split it).
 */
export class HttpRecognizer implements Recognizer {
  readonly kind = 'http'
  private readonly pool: Pool
  private readonly path: string

  constructor(private readonly opts: HttpRecognizerOptions) {
    const url = new URL(opts.url)
    this.path = `${url.pathname}${url.search}`
    this.pool = new Pool(url.origin, {
      connections: opts.connections,
      keepAliveTimeout: 10_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    })
  }

  async recognize(docs: { doc_id: string; text: string }[], signal: AbortSignal): Promise<Recognized[]> {
    const body =
      this.opts.format === 'hf'
        ? { inputs: docs.map((d) => d.text) }
        : { data_list: docs.map((d) => ({ doc_id: d.doc_id, text: d.text })) }
    const timeout = AbortSignal.timeout(this.opts.timeoutMs)
    const callSignal = AbortSignal.any([signal, timeout])
    let status: number
    let text: string
    let retryAfter: string | undefined
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: callSignal,
      })
      status = res.statusCode
      const ra = res.headers['retry-after']
      retryAfter = Array.isArray(ra) ? ra[0] : ra
      text = await res.body.text()
    } catch (err) {
      if (signal.aborted) throw new AbortedError('recognition call cancelled', { cause: err })
      if (timeout.aborted) {
        throw fail(
          `entity service: no answer within ${this.opts.timeoutMs} ms`,
          true,
          { overload: true },
          err,
        )
      }
      const code = (err as { code?: string }).code ?? 'unknown'
      const overload = NETWORK_OVERLOAD.has(code)
      const unreachable = UNREACHABLE.has(code)
      throw fail(`entity service: ${code}: ${(err as Error).message}`, true, { overload, unreachable }, err)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    const detail = detailOf(parsed)
    if (status === 413 || (detail !== null && /too large|too long|too many/i.test(detail))) {
      throw fail(`entity service: ${status}: ${detail ?? 'request too large'}`, false, {
        status,
        tooLarge: true,
      })
    }
    if (status !== 200 || detail !== null || parsed === undefined) {
      const what = detail ?? (parsed === undefined ? `not JSON: ${text.slice(0, 200)}` : 'unexpected reply')
      const ctx: RecognizeErrorFields = { status, overload: OVERLOAD_STATUSES.has(status) }
      const retryAfterMs = parseRetryAfter(retryAfter)
      if (retryAfterMs !== undefined) ctx.retryAfterMs = retryAfterMs
      throw fail(`entity service: ${status}: ${what}`, RETRY_STATUSES.has(status), ctx)
    }
    return this.opts.format === 'hf' ? fromHf(docs, parsed) : fromLeftright(docs, parsed)
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}

function detailOf(body: unknown): string | null {
  if (body && typeof body === 'object' && !Array.isArray(body) && 'detail' in body) {
    const d = (body as { detail: unknown }).detail
    return typeof d === 'string' ? d : JSON.stringify(d)
  }
  return null
}

/** Retry-After: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

const TYPE_OF: Record<string, EntityType> = {
  PER: 'PER',
  PERSON: 'PER',
  NR: 'PER',
  LOC: 'LOC',
  LOCATION: 'LOC',
  GPE: 'LOC',
  NS: 'LOC',
  ORG: 'ORG',
  ORGANIZATION: 'ORG',
  NT: 'ORG',
}

export function normalizeType(label: unknown): EntityType {
  const raw = String(label ?? '')
    .toUpperCase()
    .replace(/^[BIES]-/, '')
  return TYPE_OF[raw] ?? 'MISC'
}

/** One entity from the service, in any of the shapes seen: a string or an object. */
function toEntity(item: unknown, text: string): Entity | null {
  if (typeof item === 'string') {
    const start = text.indexOf(item)
    return { text: item, type: 'MISC', start, end: start < 0 ? -1 : start + item.length, source: 'service' }
  }
  if (!item || typeof item !== 'object') return null
  const o = item as Record<string, unknown>
  const surface = [o.text, o.word, o.entity_text, o.name].find((v) => typeof v === 'string') as
    | string
    | undefined
  if (!surface) return null
  const start = typeof o.start === 'number' ? o.start : text.indexOf(surface)
  const end = typeof o.end === 'number' ? o.end : start < 0 ? -1 : start + surface.length
  return {
    text: surface,
    type: normalizeType(o.type ?? o.label ?? o.entity_group ?? o.entity),
    start,
    end,
    source: 'service',
  }
}

/** A canonical id from the service's mapping, in the shapes seen: an id string, or an object holding one. */
function toMappedId(item: unknown): string | null {
  if (typeof item === 'string') return item === '' ? null : item
  if (typeof item === 'number') return String(item)
  if (!item || typeof item !== 'object') return null
  const o = item as Record<string, unknown>
  const id = [o.id, o.canonical_id, o.mapped_id, o.kb_id, o.entity_id].find(
    (v) => (typeof v === 'string' && v !== '') || typeof v === 'number',
  )
  return id === undefined ? null : String(id)
}

function fromLeftright(docs: { doc_id: string; text: string }[], body: unknown): Recognized[] {
  if (!Array.isArray(body)) throw fail('entity service: reply is not a list', true, {})
  const textOf = new Map(docs.map((d) => [d.doc_id, d.text]))
  const out: Recognized[] = []
  for (const row of body as Record<string, unknown>[]) {
    const id = row && typeof row === 'object' ? String(row.doc_id ?? '') : ''
    const text = textOf.get(id)
    // A reply row for a document we did not send is ignored; one we sent but is missing fails only that document.
    if (text === undefined) continue
    const list = Array.isArray(row.ent_list) ? row.ent_list : []
    // The original service spells it `maaped_ent`; aligned with ent_list.
    const mappedList = Array.isArray(row.maaped_ent)
      ? row.maaped_ent
      : Array.isArray(row.mapped_ent)
        ? row.mapped_ent
        : null
    const entities: Entity[] = []
    const mapped: (string | null)[] = []
    list.forEach((item, i) => {
      const e = toEntity(item, text)
      if (!e) return
      entities.push(e)
      mapped.push(mappedList ? toMappedId(mappedList[i]) : null)
    })
    out.push({ doc_id: id, entities, ...(mappedList ? { mapped } : {}) })
  }
  return out
}

function fromHf(docs: { doc_id: string; text: string }[], body: unknown): Recognized[] {
  if (!Array.isArray(body)) throw fail('entity service: reply is not a list', true, {})
  // A single input may come back as a flat list of entities.
  const rows = docs.length === 1 && body.length > 0 && !Array.isArray(body[0]) ? [body] : body
  if (rows.length !== docs.length) {
    throw fail(`entity service: ${rows.length} results for ${docs.length} inputs`, true, {})
  }
  return docs.map((d, i) => ({
    doc_id: d.doc_id,
    entities: ((rows[i] as unknown[]) ?? [])
      .map((e) => toEntity(e, d.text))
      .filter((e): e is Entity => e !== null),
  }))
}
