import path from 'node:path'
import {
  brokers,
  type DiskFloor,
  diskFloor,
  int,
  ms,
  oneOf,
  optional,
  type Parser,
  rotateSize,
  tableName,
  text,
} from './config-parsers.js'

/**
 * Every setting, defined once: its default (units in the name), its parser
 * (bounds and what is expected) and one line for the README. The environment
 * variable is `LR_` + the key in upper snake case, the flag `--` + the key in
 * kebab case, unless `name` says otherwise (then `LR_<NAME>` and `--<name>`).
 * The README's settings table is generated from this (npm run settings-table)
 * and a test fails when the two disagree.
 */
interface Definition<T> {
  default: T
  parser: Parser<T>
  /** One line for the README: what it does. */
  doc: string
  /** The default as the README shows it, when the value itself is not how a person writes it. */
  shownDefault?: string
  /** Env and flag base name when it is not the key's (kebab case). */
  name?: string
}

const def = <T>(d: T, parser: Parser<T>, doc: string, extra: Partial<Definition<T>> = {}): Definition<T> => ({
  default: d,
  parser,
  doc,
  ...extra,
})

export const SECOND = 1000
export const MINUTE = 60 * SECOND

const packageRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..')
export const shippedSampleDir = path.join(packageRoot, 'data', 'sample')
/** The data dir of this checkout: the only place LR_SAMPLE=auto seeds the demo. */
export const checkoutDataDir = path.join(packageRoot, 'data')
const httpAddress = /^[\w.-]*:\d{1,5}$/

export const definitions = {
  dataDir: def(
    './data',
    text('a folder path'),
    'holds `left/ right/ milestones/ dead/ bad/ state/ results/`',
  ),
  workers: def(4, int(1, 256, 'an integer from 1 to 256'), 'worker loops in this process'),
  gpuConcurrency: def(
    2,
    int(1, 1024, 'an integer from 1 to 1024'),
    'recognition calls in flight in this process (all loops together)',
  ),
  gpuRememberMs: def(
    30 * MINUTE,
    ms(0, 2 ** 40),
    'a GPU limit learned from refusals is kept in `state/gpu.json` and reused by the next start within this time (0: always start slow)',
  ),
  batchSize: def(100, int(1, 100_000, 'an integer from 1 to 100000'), 'documents per batch file'),
  recognizer: def(
    'builtin' as 'builtin' | 'dictionary' | 'none' | 'http',
    oneOf('builtin', 'dictionary', 'none', 'http'),
    '`builtin`, `dictionary`, `none`, or `http` (the entity service; implied by `LR_NER_URL`)',
  ),
  staleMs: def(MINUTE, ms(100, 2 ** 31), 'a claim whose heartbeat is older is put back'),
  heartbeatMs: def(
    5 * SECOND,
    ms(10, 2 ** 31),
    'marker heartbeat period (at most a quarter of `LR_STALE_MS`)',
  ),
  shutdownGraceMs: def(15 * SECOND, ms(0, 2 ** 31), 'time in-flight batches get to finish on stop'),
  rescanMs: def(5 * SECOND, ms(50, 2 ** 31), 'full rescan of `left/` besides watch events'),
  badGraceMs: def(
    30 * SECOND,
    ms(0, 2 ** 31),
    'a file that fails to verify waits this long before going to `bad/` (rsync may still be writing it)',
  ),
  maxTextBytes: def(
    1024 * 1024,
    int(1, 2 ** 31, 'bytes, 1 or more'),
    'longest accepted document text (UTF-8 bytes)',
  ),
  entitiesPath: def(
    path.join(packageRoot, 'data', 'entities', 'entities.tsv'),
    text('a TSV file path'),
    '`surface<TAB>id<TAB>PER/LOC/ORG/MISC`: the dictionary pass and TSV mapping',
    { name: 'entities', shownDefault: '`data/entities/entities.tsv`' },
  ),
  sample: def(
    'auto',
    text('auto, off or a folder of .jsonl files'),
    "`auto`: the shipped demo sample, only into this checkout's own `data/` with the file sink, no source and empty `left/` `right/`; `off`; or a folder of `.jsonl` to enqueue once",
  ),
  kafkaBrokers: def<string[] | null>(
    null,
    brokers,
    '`host:port[,...]`; set = `start` also runs the Kafka prefetcher',
  ),
  kafkaTopic: def('docs', text('a topic name'), 'the topic documents arrive on'),
  kafkaGroup: def('leftright', text('a group id'), 'boxes in one group share the partitions'),
  kafkaMaxWaitMs: def(
    500,
    ms(10, 60_000),
    'a batch holds what arrived within this wait, if fewer than `LR_BATCH_SIZE`',
  ),
  kafkaSessionTimeoutMs: def(30_000, ms(6000, 300_000), 'how long the group waits for a silent member'),
  redisUrl: def<string | null>(
    null,
    optional(/^rediss?:\/\/.+/, 'redis://host:port[/db]'),
    'set = `start` reads the Redis stream `LR_REDIS_STREAM` as group `LR_REDIS_GROUP`',
  ),
  redisStream: def('docs', text('a stream key'), 'the Redis stream documents arrive on'),
  redisGroup: def('leftright', text('a consumer group name'), 'boxes in one group share the stream'),
  redisMaxlen: def(
    100_000,
    int(1, 2 ** 31, 'an integer from 1'),
    '`dispatch --to redis` waits while the group has more unacknowledged entries than this',
  ),
  redisClaimIdleMs: def(
    MINUTE,
    ms(100, 2 ** 31),
    'entries left pending this long (by a consumer that died) are claimed by another (XAUTOCLAIM)',
  ),
  amqpUrl: def<string | null>(
    null,
    optional(/^amqps?:\/\/.+/, 'amqp://user:password@host:port[/vhost]'),
    'set = `start` consumes the RabbitMQ queue `LR_AMQP_QUEUE`',
  ),
  amqpQueue: def('docs', text('a queue name'), 'the durable RabbitMQ queue documents arrive on'),
  prefetchMaxPending: def(
    0,
    int(0, 100_000, 'an integer from 0 (3 per worker) to 100000'),
    'unclaimed batches in `left/` at which prefetch pauses; it resumes at half (0: 3 per worker)',
  ),
  minFreeDisk: def<DiskFloor>(
    { kind: 'percent', value: 5 },
    diskFloor,
    '`N%` or bytes (`500MB`, `2GB`); below it prefetch, `enqueue` and `dispatch --to-left` pause and the janitor reclaims',
    { shownDefault: '`5%`' },
  ),
  archiveDays: def(
    0,
    int(0, 3650, 'whole days from 0 (delete done batch files) to 3650'),
    '0: a done batch file is deleted; N: moved to `archive/` and deleted after N days',
  ),
  ledgerAfterMs: def(
    24 * 60 * MINUTE,
    ms(0, 2 ** 40),
    'done markers older than this are compacted into `state/ledger/YYYY-MM-DD.jsonl`',
  ),
  mysqlUrl: def<string | null>(
    null,
    optional(/^mysql:\/\/.+\/\w+/, 'mysql://user[:password]@host:port/database'),
    'e.g. `mysql://root@127.0.0.1:3306/test`; unset = results in `data/results/`',
  ),
  mysqlResultsTable: def('doc_ent_map', tableName, 'results table'),
  mysqlFailuresTable: def('doc_failures', tableName, 'failed documents table'),
  mysqlSourceTable: def('source_data', tableName, 'dispatch source table'),
  mysqlDictTable: def(
    'entity_dict',
    tableName,
    '`surface -> canonical_id`; created and filled from `LR_ENTITIES` when missing',
  ),
  clickhouseUrl: def<string | null>(
    null,
    optional(/^https?:\/\/[^/]+\/\w+$/, 'http://host:8123/DATABASE'),
    'results go to ClickHouse (`doc_ent_map` on ReplacingMergeTree) in this database',
  ),
  sink: def(
    'auto' as 'auto' | 'file' | 'mysql' | 'clickhouse',
    oneOf('auto', 'file', 'mysql', 'clickhouse'),
    '`auto`: ClickHouse when `LR_CLICKHOUSE_URL` is set, else MySQL when `LR_MYSQL_URL` is set, else files; `file`, `mysql`, `clickhouse`',
  ),
  mapping: def(
    'auto' as 'auto' | 'tsv' | 'mysql' | 'service',
    oneOf('auto', 'tsv', 'mysql', 'service'),
    "the service's mapping (`maaped_ent`) is kept; what it left unmapped comes from: `auto` (the MySQL table when `LR_MYSQL_URL` is set, else `LR_ENTITIES`), `tsv`, `mysql`; `service`: the service's alone",
  ),
  resultFormat: def(
    'auto' as 'auto' | 'json' | 'list',
    oneOf('auto', 'json', 'list'),
    'MySQL `ent_list_str`/`mapped_list_str`: `json` (arrays of objects), `list` (the original comma-joined strings), `auto` (`list` for an adopted table whose rows are in that form)',
  ),
  mapCacheEntries: def(
    100_000,
    int(1, 10_000_000, 'an integer from 1 to 10000000'),
    'surfaces the mapping stage remembers (least recently used go first)',
  ),
  dispatchPageSize: def(1000, int(1, 100_000, 'an integer from 1 to 100000'), 'rows per keyset page'),
  dispatchBrickSize: def(
    10_000,
    int(1, 100_000_000, 'an integer from 1 to 100000000'),
    'id range checkpointed as one brick',
  ),
  http: def<string | null>(
    '127.0.0.1:9464',
    optional(httpAddress, 'host:port or off'),
    '`host:port` of `/`, `/status`, `/metrics`; `off` to disable',
  ),
  httpToken: def<string | null>(
    null,
    optional(/^.{16,}$/, 'a token of 16 or more characters'),
    'required on every request when set; must be set to bind beyond loopback',
  ),
  nerUrl: def<string | null>(
    null,
    optional(/^https?:\/\//, 'an http(s) URL'),
    'the HTTP entity service; set = `LR_RECOGNIZER=http` unless another recognizer is set explicitly',
  ),
  nerFormat: def(
    'leftright' as 'leftright' | 'hf',
    oneOf('leftright', 'hf'),
    '`leftright` (`{"data_list"}` contract) or `hf` (Hugging Face `{"inputs"}`)',
  ),
  nerDocsPerCall: def(16, int(1, 1000, 'an integer from 1 to 1000'), 'documents per recognition call'),
  nerTimeoutMs: def(
    30_000,
    ms(100, 600_000),
    'a call with no answer by then is cancelled (counts as overload)',
  ),
  nerAttempts: def(
    6,
    int(1, 20, 'an integer from 1 to 20'),
    'tries per call before its documents go to `dead/`',
  ),
  logLevel: def(
    'info' as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    'pino level',
  ),
  logFormat: def(
    'auto' as 'auto' | 'json' | 'pretty',
    oneOf('auto', 'json', 'pretty'),
    '`auto`: pretty on a terminal, JSON lines otherwise; `json`; `pretty`',
  ),
  logFile: def<string | null>(
    null,
    optional(/./, 'a file path'),
    'log JSON lines to `FILE.N.log` instead of stdout, rotated by size',
  ),
  logMaxSize: def('10m', rotateSize, 'rotate the log file at this size (`500k`, `10m`, `1g`)'),
  logKeep: def(5, int(1, 1000, 'a count from 1 to 1000'), 'rotated log files kept besides the current one'),
}

type Defs = typeof definitions
export type SettingKey = keyof Defs
/** The resolved settings: one field per definition, of its parser's type. */
export type Settings = { [K in SettingKey]: Defs[K]['default'] }
export type RecognizerKind = Settings['recognizer']
export type { DiskFloor }

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** The flag name (without `--`) of a setting. */
export function flagOf(key: SettingKey): string {
  return (definitions[key] as Definition<unknown>).name ?? kebab(key)
}

/** The environment variable of a setting. */
export function envOf(key: SettingKey): string {
  return `LR_${flagOf(key).replace(/-/g, '_').toUpperCase()}`
}

export const settingKeys = Object.keys(definitions) as SettingKey[]

/** Environment variables that are not settings but are ours: LR_CONFIG names the config file. */
export const META_ENV = ['LR_CONFIG'] as const

/** How the README shows a setting's default. */
export function shownDefault(key: SettingKey): string {
  const d = definitions[key] as Definition<unknown>
  if (d.shownDefault) return d.shownDefault
  if (d.default === null) return 'unset'
  return typeof d.default === 'number' ? String(d.default) : `\`${String(d.default)}\``
}

export function docOf(key: SettingKey): string {
  return (definitions[key] as Definition<unknown>).doc
}

export function parserOf(key: SettingKey): Parser<unknown> {
  return (definitions[key] as Definition<unknown>).parser
}

export const defaults: Settings = Object.fromEntries(
  settingKeys.map((k) => [k, definitions[k].default]),
) as Settings
