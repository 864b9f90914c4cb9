import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ErrorCodes, LrError } from './errors.js'

/**
 * Settings, typed once. Precedence: command-line flag > environment variable >
 * `leftright.config.json` (in the working directory, or the file named by
 * LR_CONFIG) > the default below. Units are in the names.
 */
export type RecognizerKind = 'builtin' | 'dictionary' | 'none' | 'http'
export type DiskFloor = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number }

export interface Settings {
  /** Holds left/ right/ milestones/ dead/ bad/ state/ results/. */
  dataDir: string
  /** Worker loops in this process. */
  workers: number
  /** Max entity-recognition calls in flight in this process (all loops together). */
  gpuConcurrency: number
  /** Documents per batch file. */
  batchSize: number
  kafkaBrokers: string[] | null
  kafkaTopic: string
  kafkaGroup: string
  /** null: results go to files under dataDir/results/. */
  mysqlUrl: string | null
  nerUrl: string | null
  /** `leftright` (the original {data_list} contract) or `hf` (Hugging Face token classification). */
  nerFormat: 'leftright' | 'hf'
  /** Documents sent per recognition call. */
  nerDocsPerCall: number
  /** A recognition call with no answer after this long is cancelled and counts as overload. */
  nerTimeoutMs: number
  /** Tries per recognition call before its documents go to dead/. */
  nerAttempts: number
  recognizer: RecognizerKind
  /** A claim whose heartbeat (marker mtime) is older than this is put back. */
  staleMs: number
  /** Marker heartbeat period while a batch is processed. */
  heartbeatMs: number
  minFreeDisk: DiskFloor
  /** `host:port` for /status and /metrics, or null when off. */
  http: string | null
  /** Required on every HTTP request (Bearer token or ?token=) when set; must be set to bind beyond loopback. */
  httpToken: string | null
  /** After SIGINT/SIGTERM, in-flight batches get this long to finish before they are released. */
  shutdownGraceMs: number
  /** Full rescan of left/ even without watch events (rsync'd or network folders miss events). */
  rescanMs: number
  /** A batch file that fails to verify but is younger than this is left alone (rsync may still be writing it). */
  badGraceMs: number
  /** Longest accepted document text, in bytes (UTF-8). */
  maxTextBytes: number
  /** TSV of `surface<TAB>canonical_id<TAB>type` used by the dictionary pass and by mapping. */
  entitiesPath: string
  /** Prefetch pauses when left/ holds this many unclaimed batches (0: three per worker). */
  prefetchMaxPending: number
  /** Longest wait for a Kafka fetch to fill before a smaller batch is written. */
  kafkaMaxWaitMs: number
  /** A consumer silent this long leaves the group and its partitions move (a killed box holds them until then). */
  kafkaSessionTimeoutMs: number
  mysqlResultsTable: string
  mysqlFailuresTable: string
  mysqlSourceTable: string
  /** Reference data for mapping: `auto` (the MySQL table when LR_MYSQL_URL is set, else the TSV), `tsv` or `mysql`. */
  mapping: 'auto' | 'tsv' | 'mysql'
  /** surface -> canonical id table; created (and filled from LR_ENTITIES) when missing. */
  mysqlDictTable: string
  /** Surfaces the mapping stage remembers between batches. */
  mapCacheEntries: number
  /** Done batch files are moved to archive/ and kept this many days (0: deleted at once). */
  archiveDays: number
  /** Done markers whose batch finished longer ago than this are compacted into state/ledger/. */
  ledgerAfterMs: number
  /** Rows per dispatch page (keyset paging inside id bricks). */
  dispatchPageSize: number
  /** Width of a dispatch id brick; the checkpoint records progress inside it. */
  dispatchBrickSize: number
  /** `auto`: on the first `start` without a source, enqueue the shipped sample once. `off`, or a folder of .jsonl files. */
  sample: string
}

const packageRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')

export const SECOND = 1000
export const MINUTE = 60 * SECOND

export const defaults: Settings = {
  dataDir: './data',
  workers: 4,
  gpuConcurrency: 2,
  batchSize: 100,
  kafkaBrokers: null,
  kafkaTopic: 'docs',
  kafkaGroup: 'leftright',
  mysqlUrl: null,
  nerUrl: null,
  nerFormat: 'leftright',
  nerDocsPerCall: 16,
  nerTimeoutMs: 30_000,
  nerAttempts: 6,
  recognizer: 'builtin',
  staleMs: MINUTE,
  heartbeatMs: 5 * SECOND,
  minFreeDisk: { kind: 'percent', value: 5 },
  http: '127.0.0.1:9464',
  httpToken: null,
  shutdownGraceMs: 15 * SECOND,
  rescanMs: 5 * SECOND,
  badGraceMs: 30 * SECOND,
  maxTextBytes: 1024 * 1024,
  entitiesPath: path.join(packageRoot, 'data', 'entities', 'entities.tsv'),
  sample: 'auto',
  prefetchMaxPending: 0,
  kafkaMaxWaitMs: 500,
  kafkaSessionTimeoutMs: 30_000,
  mysqlResultsTable: 'doc_ent_map',
  mysqlFailuresTable: 'doc_failures',
  mysqlSourceTable: 'source_data',
  mapping: 'auto',
  archiveDays: 0,
  ledgerAfterMs: 24 * 60 * MINUTE,
  mysqlDictTable: 'entity_dict',
  mapCacheEntries: 100_000,
  dispatchPageSize: 1000,
  dispatchBrickSize: 10_000,
}

export const shippedSampleDir = path.join(packageRoot, 'data', 'sample')

type Parser<T> = (raw: string) => T

interface Spec<K extends keyof Settings> {
  key: K
  env: string
  flag: string
  expected: string
  parse: Parser<Settings[K] | undefined>
}

const int =
  (min: number, max: number): Parser<number | undefined> =>
  (raw) => {
    if (!/^\d+$/.test(raw.trim())) return undefined
    const n = Number(raw)
    return n >= min && n <= max ? n : undefined
  }
const text: Parser<string | undefined> = (raw) => (raw.trim() === '' ? undefined : raw.trim())
const orNull: Parser<string | null | undefined> = (raw) => {
  const t = raw.trim()
  return t === '' || t === 'off' || t === 'unset' ? null : t
}

/** SQL identifiers are interpolated (quoted) into statements, so only plain names are accepted. */
const tableName = {
  expected: 'a table name of letters, digits and _ (at most 64)',
  parse: (raw: string): string | undefined =>
    /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(raw.trim()) ? raw.trim() : undefined,
}

function parseDiskFloor(raw: string): DiskFloor | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%|b|kb|mb|gb|tb)?\s*$/i.exec(raw)
  if (!m) return undefined
  const value = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase()
  if (unit === '%') return value <= 100 ? { kind: 'percent', value } : undefined
  const scale: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }
  return { kind: 'bytes', value: Math.round(value * (scale[unit] ?? 1)) }
}

function parseBrokers(raw: string): string[] | null | undefined {
  const t = raw.trim()
  if (t === '' || t === 'off') return null
  const list = t.split(',').map((s) => s.trim())
  return list.every((b) => /^[\w.-]+:\d{1,5}$/.test(b)) ? list : undefined
}

const specs: Spec<keyof Settings>[] = [
  { key: 'dataDir', env: 'LR_DATA_DIR', flag: 'data-dir', expected: 'a folder path', parse: text },
  {
    key: 'workers',
    env: 'LR_WORKERS',
    flag: 'workers',
    expected: 'an integer from 1 to 256',
    parse: int(1, 256),
  },
  {
    key: 'gpuConcurrency',
    env: 'LR_GPU_CONCURRENCY',
    flag: 'gpu-concurrency',
    expected: 'an integer from 1 to 1024',
    parse: int(1, 1024),
  },
  {
    key: 'batchSize',
    env: 'LR_BATCH_SIZE',
    flag: 'batch-size',
    expected: 'an integer from 1 to 100000',
    parse: int(1, 100_000),
  },
  {
    key: 'kafkaBrokers',
    env: 'LR_KAFKA_BROKERS',
    flag: 'kafka-brokers',
    expected: 'host:port[,host:port...]',
    parse: parseBrokers,
  },
  { key: 'kafkaTopic', env: 'LR_KAFKA_TOPIC', flag: 'kafka-topic', expected: 'a topic name', parse: text },
  { key: 'kafkaGroup', env: 'LR_KAFKA_GROUP', flag: 'kafka-group', expected: 'a group id', parse: text },
  {
    key: 'mysqlUrl',
    env: 'LR_MYSQL_URL',
    flag: 'mysql-url',
    expected: 'mysql://user[:password]@host:port/database',
    parse: (raw) => {
      const v = orNull(raw)
      return v === null || (v !== undefined && /^mysql:\/\/.+\/\w+/.test(v)) ? v : undefined
    },
  },
  {
    key: 'nerUrl',
    env: 'LR_NER_URL',
    flag: 'ner-url',
    expected: 'an http(s) URL',
    parse: (raw) => {
      const v = orNull(raw)
      return v === null || (v !== undefined && /^https?:\/\//.test(v)) ? v : undefined
    },
  },
  {
    key: 'recognizer',
    env: 'LR_RECOGNIZER',
    flag: 'recognizer',
    expected: 'builtin, dictionary, none or http',
    parse: (raw) =>
      ['builtin', 'dictionary', 'none', 'http'].includes(raw.trim())
        ? (raw.trim() as RecognizerKind)
        : undefined,
  },
  {
    key: 'staleMs',
    env: 'LR_STALE_MS',
    flag: 'stale-ms',
    expected: 'milliseconds, 100 or more',
    parse: int(100, 2 ** 31),
  },
  {
    key: 'heartbeatMs',
    env: 'LR_HEARTBEAT_MS',
    flag: 'heartbeat-ms',
    expected: 'milliseconds, 10 or more',
    parse: int(10, 2 ** 31),
  },
  {
    key: 'minFreeDisk',
    env: 'LR_MIN_FREE_DISK',
    flag: 'min-free-disk',
    expected: 'a percentage like 5% or a size like 2GB',
    parse: parseDiskFloor,
  },
  {
    key: 'http',
    env: 'LR_HTTP',
    flag: 'http',
    expected: 'host:port or off',
    parse: (raw) => {
      const v = orNull(raw)
      return v === null || (v !== undefined && /^[\w.-]*:\d{1,5}$/.test(v)) ? v : undefined
    },
  },
  {
    key: 'httpToken',
    env: 'LR_HTTP_TOKEN',
    flag: 'http-token',
    expected: 'a token of 16 or more characters',
    parse: (raw) => {
      const v = orNull(raw)
      return v === null || (v !== undefined && v.length >= 16) ? v : undefined
    },
  },
  {
    key: 'shutdownGraceMs',
    env: 'LR_SHUTDOWN_GRACE_MS',
    flag: 'shutdown-grace-ms',
    expected: 'milliseconds',
    parse: int(0, 2 ** 31),
  },
  {
    key: 'rescanMs',
    env: 'LR_RESCAN_MS',
    flag: 'rescan-ms',
    expected: 'milliseconds, 50 or more',
    parse: int(50, 2 ** 31),
  },
  {
    key: 'badGraceMs',
    env: 'LR_BAD_GRACE_MS',
    flag: 'bad-grace-ms',
    expected: 'milliseconds',
    parse: int(0, 2 ** 31),
  },
  {
    key: 'maxTextBytes',
    env: 'LR_MAX_TEXT_BYTES',
    flag: 'max-text-bytes',
    expected: 'bytes, 1 or more',
    parse: int(1, 2 ** 31),
  },
  { key: 'entitiesPath', env: 'LR_ENTITIES', flag: 'entities', expected: 'a TSV file path', parse: text },
  {
    key: 'nerFormat',
    env: 'LR_NER_FORMAT',
    flag: 'ner-format',
    expected: 'leftright or hf',
    parse: (raw) =>
      raw.trim() === 'leftright' || raw.trim() === 'hf' ? (raw.trim() as 'leftright' | 'hf') : undefined,
  },
  {
    key: 'nerDocsPerCall',
    env: 'LR_NER_DOCS_PER_CALL',
    flag: 'ner-docs-per-call',
    expected: 'an integer from 1 to 1000',
    parse: int(1, 1000),
  },
  {
    key: 'nerTimeoutMs',
    env: 'LR_NER_TIMEOUT_MS',
    flag: 'ner-timeout-ms',
    expected: 'milliseconds from 100 to 600000',
    parse: int(100, 600_000),
  },
  {
    key: 'nerAttempts',
    env: 'LR_NER_ATTEMPTS',
    flag: 'ner-attempts',
    expected: 'an integer from 1 to 20',
    parse: int(1, 20),
  },
  {
    key: 'prefetchMaxPending',
    env: 'LR_PREFETCH_MAX_PENDING',
    flag: 'prefetch-max-pending',
    expected: 'an integer from 0 (3 per worker) to 100000',
    parse: int(0, 100_000),
  },
  {
    key: 'kafkaMaxWaitMs',
    env: 'LR_KAFKA_MAX_WAIT_MS',
    flag: 'kafka-max-wait-ms',
    expected: 'milliseconds from 10 to 60000',
    parse: int(10, 60_000),
  },
  {
    key: 'kafkaSessionTimeoutMs',
    env: 'LR_KAFKA_SESSION_TIMEOUT_MS',
    flag: 'kafka-session-timeout-ms',
    expected: 'milliseconds from 6000 to 300000',
    parse: int(6000, 300_000),
  },
  { key: 'mysqlResultsTable', env: 'LR_MYSQL_RESULTS_TABLE', flag: 'mysql-results-table', ...tableName },
  { key: 'mysqlFailuresTable', env: 'LR_MYSQL_FAILURES_TABLE', flag: 'mysql-failures-table', ...tableName },
  { key: 'mysqlSourceTable', env: 'LR_MYSQL_SOURCE_TABLE', flag: 'mysql-source-table', ...tableName },
  { key: 'mysqlDictTable', env: 'LR_MYSQL_DICT_TABLE', flag: 'mysql-dict-table', ...tableName },
  {
    key: 'mapping',
    env: 'LR_MAPPING',
    flag: 'mapping',
    expected: 'auto, tsv or mysql',
    parse: (raw) => {
      const v = raw.trim()
      return v === 'auto' || v === 'tsv' || v === 'mysql' ? v : undefined
    },
  },
  {
    key: 'archiveDays',
    env: 'LR_ARCHIVE_DAYS',
    flag: 'archive-days',
    expected: 'whole days from 0 (delete done batch files) to 3650',
    parse: int(0, 3650),
  },
  {
    key: 'ledgerAfterMs',
    env: 'LR_LEDGER_AFTER_MS',
    flag: 'ledger-after-ms',
    expected: 'milliseconds',
    parse: int(0, 2 ** 40),
  },
  {
    key: 'mapCacheEntries',
    env: 'LR_MAP_CACHE_ENTRIES',
    flag: 'map-cache-entries',
    expected: 'an integer from 1 to 10000000',
    parse: int(1, 10_000_000),
  },
  {
    key: 'dispatchPageSize',
    env: 'LR_DISPATCH_PAGE_SIZE',
    flag: 'dispatch-page-size',
    expected: 'an integer from 1 to 100000',
    parse: int(1, 100_000),
  },
  {
    key: 'dispatchBrickSize',
    env: 'LR_DISPATCH_BRICK_SIZE',
    flag: 'dispatch-brick-size',
    expected: 'an integer from 1 to 100000000',
    parse: int(1, 100_000_000),
  },
  {
    key: 'sample',
    env: 'LR_SAMPLE',
    flag: 'sample',
    expected: 'auto, off or a folder of .jsonl files',
    parse: text,
  },
]

export function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':'))
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

/** Flags every command accepts, for util.parseArgs. */
export const settingFlags: Record<string, { type: 'string' }> = Object.fromEntries(
  specs.map((s) => [s.flag, { type: 'string' as const }]),
)

function configError(message: string): LrError {
  return new LrError(ErrorCodes.config, message)
}

function readConfigFile(
  env: NodeJS.ProcessEnv,
  cwd: string,
): { file: string; values: Record<string, unknown> } | null {
  const file = env.LR_CONFIG ? path.resolve(cwd, env.LR_CONFIG) : path.join(cwd, 'leftright.config.json')
  if (!existsSync(file)) {
    if (env.LR_CONFIG) throw configError(`LR_CONFIG=${env.LR_CONFIG}: file not found`)
    return null
  }
  let values: unknown
  try {
    values = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw configError(`${file}: not valid JSON (${(err as Error).message})`)
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw configError(`${file}: expected a JSON object of settings`)
  }
  return { file, values: values as Record<string, unknown> }
}

/**
 * Resolve settings from flags, env and the config file. Throws LrError(LR_CONFIG)
 * naming the first bad setting, where it came from and what was expected.
 */
export function loadSettings(
  flags: Record<string, string | boolean | undefined> = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Settings {
  const fromFile = readConfigFile(env, cwd)
  if (fromFile) {
    const known = new Set<string>(specs.map((s) => s.key))
    for (const key of Object.keys(fromFile.values)) {
      if (!known.has(key)) throw configError(`${fromFile.file}: unknown setting "${key}"`)
    }
  }
  const out: Record<string, unknown> = { ...defaults }
  for (const spec of specs) {
    let raw: string | undefined
    let origin = ''
    const flagValue = flags[spec.flag]
    if (typeof flagValue === 'string') {
      raw = flagValue
      origin = `--${spec.flag}`
    } else if (env[spec.env] !== undefined) {
      raw = env[spec.env]
      origin = spec.env
    } else if (fromFile && spec.key in fromFile.values) {
      const v = fromFile.values[spec.key]
      raw = Array.isArray(v) ? v.join(',') : v === null ? 'off' : String(v)
      origin = `${path.basename(fromFile.file)}:${spec.key}`
    }
    if (raw === undefined) continue
    const value = spec.parse(raw)
    if (value === undefined) throw configError(`${origin}=${JSON.stringify(raw)}: expected ${spec.expected}`)
    out[spec.key] = value
  }
  const settings = out as unknown as Settings
  if (settings.nerUrl && settings.recognizer === 'builtin') settings.recognizer = 'http'
  if (settings.recognizer === 'http' && !settings.nerUrl) {
    throw configError('LR_RECOGNIZER=http needs LR_NER_URL (the entity service URL)')
  }
  if (settings.http && !isLoopback(settings.http) && !settings.httpToken) {
    throw configError(
      `LR_HTTP=${settings.http} listens beyond this machine: set LR_HTTP_TOKEN (16+ characters) as well, or bind to 127.0.0.1`,
    )
  }
  if (settings.mapping === 'mysql' && !settings.mysqlUrl) {
    throw configError('LR_MAPPING=mysql needs LR_MYSQL_URL (the database holding the entity dictionary)')
  }
  settings.dataDir = path.resolve(cwd, settings.dataDir)
  settings.entitiesPath = path.resolve(cwd, settings.entitiesPath)
  return settings
}
