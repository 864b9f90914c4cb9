import { hostname } from 'node:os'
import type { DocFailure, DocResult, Sink } from '../core/contracts.js'
import { errnoCode, SinkError } from '../core/errors.js'
import { writeFileAtomic } from '../store/atomic.js'
import { type Layout, resultsFile } from '../store/layout.js'

/**
 * The default sink when LR_MYSQL_URL is unset: results/<batch>.jsonl, one record
 * per document, written atomically. Writing the same batch again replaces the
 * file, so a batch processed twice still leaves one record per document.
 */
export class FileSink implements Sink {
  readonly kind = 'file'
  private readonly host = hostname()

  constructor(private readonly layout: Layout) {}

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
      await writeFileAtomic(resultsFile(this.layout, batchId), lines.length ? `${lines.join('\n')}\n` : '')
    } catch (err) {
      // A full disk or a missing folder can clear up: retry with the claim kept.
      throw new SinkError(`batch ${batchId}: writing results failed (${(err as Error).message})`, {
        cause: err,
        retryable: true,
        driverCode: errnoCode(err),
      })
    }
  }

  async recordFailures(_failures: DocFailure[]): Promise<void> {
    // Failures already sit in dead/ with their reason; the file sink keeps no second copy.
  }

  async close(): Promise<void> {}
}
