import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { PipelineObserver } from '../core/contracts.js'
import type { GpuCapSnapshot } from '../recognize/gpu-cap.js'
import type { StatusSnapshot } from './status.js'
import { Throughput } from './throughput.js'

export interface MetricSources {
  /** The data dir's status (cached briefly by the caller). */
  status(): Promise<StatusSnapshot>
  /** The pool's GPU cap, or null in a process without one. */
  gpu(): GpuCapSnapshot | null
  /** Entries of the source not yet acknowledged (total and parts); null without a source. */
  sourceLag(): Promise<{ kind: string; total: number; parts: Record<string, number> } | null>
}

/**
 * Prometheus metrics of one process (prom-client, its own registry). Counters
 * move as the pipeline works (this is its PipelineObserver); gauges are read
 * from the data dir's status, the GPU cap and Kafka at scrape time.
 */
export class Metrics implements PipelineObserver {
  readonly registry = new Registry()
  /** Documents finished per second: the dashboard's chart. */
  readonly throughput = new Throughput()
  private readonly docs: Counter<'outcome'>
  private readonly batchesDone: Counter
  private readonly recognitionErrors: Counter<'kind'>
  private readonly rowsInserted: Counter
  private readonly insertSeconds: Histogram

  constructor(readonly sources: MetricSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.docs = new Counter({
      name: 'leftright_documents_processed_total',
      help: 'Documents this process finished, by outcome (ok: in the results; failed: in dead/).',
      labelNames: ['outcome'],
      registers,
    })
    this.batchesDone = new Counter({
      name: 'leftright_batches_done_total',
      help: 'Batches this process finished.',
      registers,
    })
    this.recognitionErrors = new Counter({
      name: 'leftright_recognition_errors_total',
      help: 'Failed recognition calls (retried or not), by kind.',
      labelNames: ['kind'],
      registers,
    })
    this.rowsInserted = new Counter({
      name: 'leftright_rows_inserted_total',
      help: 'Result rows committed to the sink.',
      registers,
    })
    this.insertSeconds = new Histogram({
      name: 'leftright_insert_seconds',
      help: 'Time to commit one batch of results to the sink.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    new Gauge({
      name: 'leftright_batches',
      help: 'Batches in the data dir, by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await sources.status()
        for (const [state, n] of Object.entries(s.batches)) this.set({ state }, n)
      },
    })
    new Gauge({
      name: 'leftright_documents',
      help: 'Documents in the data dir, by state (dead: set aside in dead/).',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await sources.status()
        for (const [state, n] of Object.entries(s.docs)) this.set({ state }, n)
      },
    })
    new Gauge({
      name: 'leftright_disk_free_bytes',
      help: 'Free bytes on the data dir file system.',
      registers,
      async collect() {
        const s = await sources.status()
        if (s.disk) this.set(s.disk.freeBytes)
      },
    })
    new Gauge({
      name: 'leftright_paused',
      help: '1 when taking new work is paused, by reason (disk, backlog).',
      labelNames: ['reason'],
      registers,
      async collect() {
        const s = await sources.status()
        for (const reason of ['disk', 'backlog']) this.set({ reason }, s.paused === reason ? 1 : 0)
      },
    })
    new Gauge({
      name: 'leftright_gpu_calls_in_flight',
      help: 'Recognition calls in flight in this process.',
      registers,
      collect() {
        this.set(sources.gpu()?.inFlight ?? 0)
      },
    })
    new Gauge({
      name: 'leftright_gpu_limit',
      help: 'The adaptive cap on recognition calls in flight (at most LR_GPU_CONCURRENCY).',
      registers,
      collect() {
        const g = sources.gpu()
        if (g) this.set(g.limit)
      },
    })
    new Gauge({
      name: 'leftright_source_lag',
      help: 'Entries of the source not yet acknowledged, by part (Kafka: per partition; Redis: unread, pending; RabbitMQ: ready, unackedHere).',
      labelNames: ['source', 'part'],
      registers,
      async collect() {
        const lag = await sources.sourceLag().catch(() => null)
        this.reset()
        if (!lag) return
        for (const [part, n] of Object.entries(lag.parts)) this.set({ source: lag.kind, part }, n)
      },
    })
    new Gauge({
      name: 'leftright_kafka_consumer_lag',
      help: 'Messages of the topic not yet committed by the consumer group (summed over partitions).',
      registers,
      async collect() {
        const lag = await sources.sourceLag().catch(() => null)
        if (lag?.kind === 'kafka') this.set(lag.total)
      },
    })
  }

  recognitionError(kind: string): void {
    this.recognitionErrors.inc({ kind })
  }

  stored(rows: number, seconds: number): void {
    this.rowsInserted.inc(rows)
    this.insertSeconds.observe(seconds)
  }

  batchDone(ok: number, failed: number): void {
    this.batchesDone.inc()
    this.docs.inc({ outcome: 'ok' }, ok)
    this.docs.inc({ outcome: 'failed' }, failed)
    this.throughput.add(ok + failed)
  }
}
