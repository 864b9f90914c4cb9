import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import { UsageError } from '../core/errors.js'
import { docOf, envOf, flagOf, settingKeys } from '../core/settings.js'

/**
 * The command line, on commander (well kept, zero dependencies): per-command
 * `--help` with its flags and an example, `--version`, and one line (exit 2)
 * for a wrong flag. Every setting is also a flag of every command (hidden from
 * the per-command help, listed by `leftright help settings`).
 */
export interface ParsedArgs {
  command: string
  flags: Record<string, string | boolean | undefined>
  /** Flags that may be given several times (`--doc A --doc B`). */
  lists: Record<string, string[]>
  positionals: string[]
}

/** What the command line asked for: a command to run, or text to print (help, version). */
export type CliRequest = { kind: 'run'; args: ParsedArgs } | { kind: 'print'; text: string }

interface CommandSpec {
  name: string
  args?: string
  summary: string
  flags?: [string, string][]
  example: string
}

const COMMANDS: CommandSpec[] = [
  {
    name: 'start',
    args: '[files...]',
    summary:
      'prefetcher (if a source is set) + workers + janitor + status HTTP, in one process; FILE.jsonl...: enqueue them meanwhile',
    flags: [['--once', 'exit 0 when the source (or the files) is drained and nothing is pending or claimed']],
    example: 'leftright start --once docs.jsonl',
  },
  {
    name: 'work',
    summary: 'the worker loops alone',
    flags: [['--once', 'exit when drained']],
    example: 'leftright work --once',
  },
  {
    name: 'prefetch',
    summary: 'the source (Kafka, Redis Streams or RabbitMQ) -> left/ alone',
    flags: [['--once', 'exit when caught up']],
    example: 'LR_KAFKA_BROKERS=127.0.0.1:9092 leftright prefetch',
  },
  {
    name: 'enqueue',
    args: '<files...>',
    summary:
      'split JSONL documents ({"doc_id","text"} per line) into batch files in left/; - is stdin, .gz is read through gunzip',
    example: 'leftright enqueue docs.jsonl.gz',
  },
  {
    name: 'dispatch',
    summary:
      'source_data rows without a result (MySQL or ClickHouse) -> Kafka, a Redis stream or left/; keyset paging, resumable',
    flags: [
      ['--to-left', 'write batch files into left/ instead of Kafka'],
      [
        '--to <target>',
        'kafka (default when LR_KAFKA_BROKERS is set), redis (XADD to LR_REDIS_STREAM) or left',
      ],
      ['--from <source>', 'mysql (default) or clickhouse: where source_data and the results table are'],
    ],
    example: 'LR_MYSQL_URL=mysql://root@127.0.0.1:3306/test leftright dispatch --to-left',
  },
  {
    name: 'janitor',
    summary: 'put back stale claims, compact done markers, reclaim disk (also runs inside start)',
    flags: [['--once', 'one sweep']],
    example: 'leftright janitor --once',
  },
  {
    name: 'handoff',
    args: '[ids...]',
    summary:
      "move N unclaimed batches to another box's left/ with rsync, verified; --release gives back reservations",
    flags: [
      ['--to <dest>', 'a folder or host:path ending in left/'],
      ['--count <n>', 'batches to move'],
      ['--bwlimit <KiBps>', 'rsync bandwidth limit'],
      ['--release', 'give back reservations (all, or the ids given) of batches still here'],
    ],
    example: 'leftright handoff --to box2:/srv/leftright/data/left/ --count 50',
  },
  {
    name: 'doctor',
    summary: 'check settings, folders, disk, Kafka, MySQL and the entity service',
    example: 'leftright doctor',
  },
  {
    name: 'migrate',
    summary: 'print (then, with --apply, run) the SQL that makes existing MySQL tables fit',
    flags: [['--apply', 'run the statements']],
    example: 'leftright migrate && leftright migrate --apply',
  },
  {
    name: 'status',
    summary: 'counts, rates, ETA, disk, dependencies, stale claims',
    flags: [
      ['--json', 'the JSON of /status'],
      ['--watch', 'refresh every 2 s'],
    ],
    example: 'leftright status --watch',
  },
  {
    name: 'retry',
    args: '<what> [ids...]',
    summary:
      'put set-aside work back: `retry dead` (documents in dead/) or `retry bad [ID...]` (batch files in bad/)',
    flags: [
      ['--stage <stage>', 'retry dead: only entries of this stage (recognize, poison, enqueue, kafka)'],
      ['--doc <id>', 'retry dead: only this doc_id (repeatable)'],
    ],
    example: 'leftright retry dead --stage recognize',
  },
  {
    name: 'inspect',
    args: '<id>',
    summary: "a batch's marker, size, documents, milestone and history",
    example: 'leftright inspect 7cFi9Q4gYBUm2uNwZ8LqJb',
  },
]

const packageJson = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  '..',
  '..',
  'package.json',
)
export const version = (): string =>
  (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/** `leftright help settings`: every setting with its flag, environment variable and meaning. */
export function settingsHelp(): string {
  const lines = settingKeys.map((k) => `  --${flagOf(k)} (${envOf(k)})\n      ${docOf(k).replace(/`/g, '')}`)
  return `settings (flags override env, env overrides leftright.config.json):\n${lines.join('\n')}`
}

export function parseCli(argv: string[]): CliRequest {
  if (argv.length === 0 || argv[0] === 'help') {
    const topic = argv[1]
    if (topic === 'settings') return { kind: 'print', text: settingsHelp() }
    if (topic) argv = [topic, '--help']
    else argv = ['--help']
  }
  let out = ''
  let request: CliRequest | null = null
  const program = new Command('leftright')
    .description('a worker pool for long, expensive per-document jobs (README.md has the tour)')
    .version(version(), '-v, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        out += s
      },
      writeErr: (s) => {
        out += s
      },
    })
    .addHelpText('after', '\nEvery setting is also a flag of every command: leftright help settings')
  // The command asked for alone (~850 hidden setting flags over all commands took ~15 ms of every
  // start-up); all of them for the overview, `--version` or an unknown command's suggestions.
  const asked = COMMANDS.filter((spec) => spec.name === argv[0])
  for (const spec of asked.length > 0 ? asked : COMMANDS) {
    const cmd = program
      .command(spec.args ? `${spec.name} ${spec.args}` : spec.name)
      .description(spec.summary)
      .exitOverride()
      .addHelpText(
        'after',
        `\nExample:\n  ${spec.example}\n\nEvery setting is also a flag: leftright help settings`,
      )
    for (const [flag, desc] of spec.flags ?? []) {
      if (flag.startsWith('--doc ')) cmd.option(flag, desc, (v: string, prev: string[] = []) => [...prev, v])
      else cmd.option(flag, desc)
    }
    for (const k of settingKeys) cmd.addOption(new Option(`--${flagOf(k)} <value>`, docOf(k)).hideHelp())
    cmd.action((...actionArgs: unknown[]) => {
      const command = actionArgs[actionArgs.length - 1] as Command
      const opts = command.opts() as Record<string, unknown>
      const flags: ParsedArgs['flags'] = {}
      for (const k of settingKeys) {
        const v = opts[camel(flagOf(k))]
        if (typeof v === 'string') flags[flagOf(k)] = v
      }
      for (const [flag] of spec.flags ?? []) {
        const name = (flag.split(' ')[0] as string).slice(2)
        const v = opts[camel(name)]
        if (typeof v === 'string' || typeof v === 'boolean') flags[name] = v
      }
      const doc = opts.doc
      request = {
        kind: 'run',
        args: {
          command: spec.name,
          flags,
          lists: { doc: Array.isArray(doc) ? (doc as string[]) : [] },
          positionals: command.args,
        },
      }
    })
  }
  try {
    program.parse(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return { kind: 'print', text: out.trimEnd() }
      }
      throw new UsageError((err.message.split('\n')[0] ?? 'bad arguments').replace(/^error: /, ''))
    }
    throw err
  }
  if (!request) throw new UsageError(`unknown command "${argv[0]}" (try: leftright help)`)
  return request
}
