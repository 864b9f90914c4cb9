import { Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import pino from 'pino'
import type {
  Doc,
  DocFailure,
  DocResult,
  Mapper,
  Recognized,
  Recognizer,
  Sink,
} from '../../src/core/contracts.js'
import { Outages } from '../../src/core/outages.js'
import { GpuCap } from '../../src/recognize/gpu-cap.js'
import { writeNewBatch } from '../../src/store/batches.js'
import { ensureLayout, type Layout, layoutOf } from '../../src/store/layout.js'
import type { PipelineDeps } from '../../src/work/process-batch.js'
import { tempDir } from '../helpers.js'

/** A logger whose lines the test can read (JSON objects). */
export function captureLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      done()
    },
  })
  return { log: pino({ level: 'debug' }, stream), lines }
}

export async function freshLayout(t: TestContext): Promise<Layout> {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  return layout
}

export async function batchOf(layout: Layout, n: number, prefix = 'd'): Promise<{ id: string; docs: Doc[] }> {
  const docs = Array.from({ length: n }, (_, i) => ({
    doc_id: `${prefix}-${i}`,
    text: `text ${i} of ${prefix}`,
  }))
  const { id } = await writeNewBatch(layout, docs, 'test')
  return { id, docs }
}

/** A recognizer that finds one entity per document, and fails the calls a test asks it to. */
export class ScriptedRecognizer implements Recognizer {
  readonly kind = 'scripted'
  calls = 0
  /** Called before each call: throw to fail it. */
  constructor(private readonly before: (call: number) => void = () => {}) {}
  async recognize(docs: Pick<Doc, 'doc_id' | 'text'>[]): Promise<Recognized[]> {
    this.calls++
    this.before(this.calls)
    return docs.map((d) => ({
      doc_id: d.doc_id,
      entities: [{ text: 'Hangzhou', type: 'LOC', start: 0, end: 8, source: 'service' }],
    }))
  }
  async close(): Promise<void> {}
}

export class ScriptedMapper implements Mapper {
  readonly kind = 'tsv'
  calls = 0
  constructor(private readonly before: (call: number) => void = () => {}) {}
  async init(): Promise<void> {}
  async lookupMany(surfaces: Iterable<string>): Promise<Map<string, string | null>> {
    this.calls++
    this.before(this.calls)
    return new Map([...surfaces].map((s) => [s.toLowerCase(), `Q-${s.toLowerCase()}`]))
  }
  async close(): Promise<void> {}
}

/** A sink that keeps rows in memory (one per doc_id, like the real ones) and fails the writes a test asks it to. */
export class MemorySink implements Sink {
  readonly kind = 'memory'
  readonly rows = new Map<string, DocResult>()
  readonly failures: DocFailure[] = []
  writes = 0
  constructor(private readonly before: (write: number) => void = () => {}) {}
  async init(): Promise<void> {}
  async write(_batchId: string, results: DocResult[]): Promise<void> {
    this.writes++
    this.before(this.writes)
    for (const r of results) this.rows.set(r.doc_id, r)
  }
  async recordFailures(failures: DocFailure[]): Promise<void> {
    this.failures.push(...failures)
  }
  async close(): Promise<void> {}
}

export function pipelineDeps(
  layout: Layout,
  parts: { recognizer?: Recognizer; mapper?: Mapper; sink?: Sink; log?: pino.Logger } = {},
): PipelineDeps & { errors: string[] } {
  const errors: string[] = []
  return {
    layout,
    recognizer: parts.recognizer ?? new ScriptedRecognizer(),
    gpuCap: new GpuCap({ max: 2 }),
    mapper: parts.mapper ?? new ScriptedMapper(),
    sink: parts.sink ?? new MemorySink(),
    log: parts.log ?? pino({ level: 'silent' }),
    docsPerCall: 4,
    recognizeAttempts: 3,
    outages: new Outages(parts.log ?? pino({ level: 'silent' })),
    observer: { recognitionError: (k) => errors.push(k), stored: () => {}, batchDone: () => {} },
    errors,
  }
}
