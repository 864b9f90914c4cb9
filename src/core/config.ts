import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { editDistance } from './config-parsers.js'
import { ConfigError } from './errors.js'
import {
  defaults,
  envOf,
  flagOf,
  META_ENV,
  parserOf,
  type SettingKey,
  type Settings,
  settingKeys,
} from './settings.js'

/**
 * Loading settings. Precedence: command-line flag > environment variable >
 * `leftright.config.json` (in the working directory, or the file named by
 * LR_CONFIG) > the default (src/core/settings.ts, where every setting is defined).
 */
export type { DiskFloor, RecognizerKind, Settings } from './settings.js'
export { checkoutDataDir, defaults, MINUTE, SECOND, shippedSampleDir } from './settings.js'

export function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':'))
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

function readConfigFile(
  env: NodeJS.ProcessEnv,
  cwd: string,
): { file: string; values: Record<string, unknown> } | null {
  const file = env.LR_CONFIG ? path.resolve(cwd, env.LR_CONFIG) : path.join(cwd, 'leftright.config.json')
  if (!existsSync(file)) {
    if (env.LR_CONFIG) throw new ConfigError(`LR_CONFIG=${env.LR_CONFIG}: file not found`)
    return null
  }
  let values: unknown
  try {
    values = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`)
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ConfigError(`${file}: expected a JSON object of settings`)
  }
  return { file, values: values as Record<string, unknown> }
}

/** The raw value of one setting and where it came from, by precedence; undefined when not set. */
function rawValue(
  key: SettingKey,
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  fromFile: { file: string; values: Record<string, unknown> } | null,
): { raw: string; origin: string } | undefined {
  const flagValue = flags[flagOf(key)]
  if (typeof flagValue === 'string') return { raw: flagValue, origin: `--${flagOf(key)}` }
  const envValue = env[envOf(key)]
  if (envValue !== undefined) return { raw: envValue, origin: envOf(key) }
  if (fromFile && key in fromFile.values) {
    const v = fromFile.values[key]
    const raw = Array.isArray(v) ? v.join(',') : v === null ? 'off' : String(v)
    return { raw, origin: `${path.basename(fromFile.file)}:${key}` }
  }
  return undefined
}

/**
 * Resolve settings from flags, env and the config file. Throws ConfigError
 * naming the first bad setting, where it came from and what was expected.
 */
export function loadSettings(
  flags: Record<string, string | boolean | undefined> = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Settings {
  const fromFile = readConfigFile(env, cwd)
  if (fromFile) {
    const known = new Set<string>(settingKeys)
    for (const key of Object.keys(fromFile.values)) {
      if (!known.has(key)) throw new ConfigError(`${fromFile.file}: unknown setting "${key}"`)
    }
  }
  const out: Record<string, unknown> = { ...defaults }
  const given = new Set<SettingKey>()
  for (const key of settingKeys) {
    const found = rawValue(key, flags, env, fromFile)
    if (!found) continue
    const value = parserOf(key).parse(found.raw)
    if (value === undefined) {
      throw new ConfigError(
        `${found.origin}=${JSON.stringify(found.raw)}: expected ${parserOf(key).expected}`,
      )
    }
    out[key] = value
    given.add(key)
  }
  const settings = out as Settings
  // A service URL implies the http recognizer, unless a recognizer was chosen explicitly.
  if (settings.nerUrl && !given.has('recognizer')) settings.recognizer = 'http'
  if (settings.recognizer === 'http' && !settings.nerUrl) {
    throw new ConfigError('LR_RECOGNIZER=http needs LR_NER_URL (the entity service URL)')
  }
  if (settings.http && !isLoopback(settings.http) && !settings.httpToken) {
    throw new ConfigError(
      `LR_HTTP=${settings.http} listens beyond this machine: set LR_HTTP_TOKEN (16+ characters) as well, or bind to 127.0.0.1`,
    )
  }
  if (settings.mapping === 'mysql' && !settings.mysqlUrl) {
    throw new ConfigError('LR_MAPPING=mysql needs LR_MYSQL_URL (the database holding the entity dictionary)')
  }
  const sources = (
    [
      ['LR_KAFKA_BROKERS', settings.kafkaBrokers],
      ['LR_REDIS_URL', settings.redisUrl],
      ['LR_AMQP_URL', settings.amqpUrl],
    ] as const
  ).filter(([, v]) => v !== null)
  if (sources.length > 1) {
    throw new ConfigError(
      `one source per process: ${sources.map(([n]) => n).join(' and ')} are set; keep one`,
    )
  }
  if (settings.sink === 'mysql' && !settings.mysqlUrl) {
    throw new ConfigError('LR_SINK=mysql needs LR_MYSQL_URL')
  }
  if (settings.sink === 'clickhouse' && !settings.clickhouseUrl) {
    throw new ConfigError('LR_SINK=clickhouse needs LR_CLICKHOUSE_URL (http://host:8123/DATABASE)')
  }
  settings.dataDir = path.resolve(cwd, settings.dataDir)
  settings.entitiesPath = path.resolve(cwd, settings.entitiesPath)
  if (!statSync(settings.entitiesPath, { throwIfNoEntry: false })?.isFile()) {
    throw new ConfigError(
      `LR_ENTITIES=${settings.entitiesPath}: no such file (a TSV of surface<TAB>id<TAB>type)`,
    )
  }
  if (settings.sample !== 'auto' && settings.sample !== 'off') {
    const dir = path.resolve(cwd, settings.sample)
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new ConfigError(`LR_SAMPLE=${settings.sample}: expected auto, off or a folder of .jsonl files`)
    }
  }
  const dataDirStat = statSync(settings.dataDir, { throwIfNoEntry: false })
  if (dataDirStat && !dataDirStat.isDirectory()) {
    throw new ConfigError(`LR_DATA_DIR=${settings.dataDir}: exists and is not a folder`)
  }
  return settings
}

/** `LR_*` variables in the environment that are not settings, each with the closest setting's name. */
export function unknownEnv(env: NodeJS.ProcessEnv = process.env): { name: string; closest: string }[] {
  const known = [...settingKeys.map(envOf), ...META_ENV]
  const out: { name: string; closest: string }[] = []
  for (const name of Object.keys(env)) {
    if (!name.startsWith('LR_') || known.includes(name)) continue
    let closest = known[0] as string
    for (const k of known) if (editDistance(name, k) < editDistance(name, closest)) closest = k
    out.push({ name, closest })
  }
  return out
}

/** The one source this process reads, if any (loadSettings refuses two). */
export function sourceOf(s: Settings): 'kafka' | 'redis' | 'amqp' | null {
  if (s.kafkaBrokers) return 'kafka'
  if (s.redisUrl) return 'redis'
  if (s.amqpUrl) return 'amqp'
  return null
}

/** Where results go: LR_SINK, or with `auto` ClickHouse, then MySQL, then files. */
export function sinkOf(s: Settings): 'file' | 'mysql' | 'clickhouse' {
  if (s.sink !== 'auto') return s.sink
  if (s.clickhouseUrl) return 'clickhouse'
  return s.mysqlUrl ? 'mysql' : 'file'
}
