import { hostname } from 'node:os'
import path from 'node:path'
import { ErrorCodes, LrError } from '../errors.js'
import type { DocResult } from '../pipeline/types.js'
import { writeFileAtomic } from '../spool/atomic.js'
import type { Layout } from '../spool/layout.js'
import type { DocFailure, Sink } from './types.js'

/**
 * The default sink when LR_MYSQL_URL is unset: results/<batch>.jsonl, one record
 * per document, written atomically. Writing the same batch again replaces the
 * file, so a batch processed twice still leaves one record per document.
 */
export class FileSink implements Sink {
  readonly kind = 'file'
  private readonly dir: string
  private readonly host = hostname()

  constructor(layout: Layout) {
    this.dir = layout.results
  }

  async init(): Promise<void> {}

  async write(batchId: string, results: DocResult[]): Promise<void> {
    const lines = results.map((r) =>
      JSON.stringify({
        doc_id: r.doc_id,
        batch_id: batchId,
        entities: r.entities.map((e) => ({ text: e.text, type: e.type, start: e.start, end: e.end })),
        mapped: r.mapped,
        host: this.host,
      }),
    )
    try {
      await writeFileAtomic(
        path.join(this.dir, `${batchId}.jsonl`),
        lines.length ? `${lines.join('\n')}\n` : '',
      )
    } catch (err) {
      // A full disk or a missing folder can clear up: retry with the claim kept.
      throw new LrError(
        ErrorCodes.sink,
        `batch ${batchId}: writing results failed (${(err as Error).message})`,
        {
          cause: err,
          retryable: true,
        },
      )
    }
  }

  async recordFailures(_failures: DocFailure[]): Promise<void> {
    // Failures already sit in dead/ with their reason; the file sink keeps no second copy.
  }

  async close(): Promise<void> {}
}
