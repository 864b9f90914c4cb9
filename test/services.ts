import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { after, before, type TestContext } from 'node:test'
import mysql, { type Pool } from 'mysql2/promise'
import pino from 'pino'
import { createKafkaClient, type KafkaClient } from '../src/adapters/kafka.js'
import { killAtExit } from './leftovers.js'

const MYSQL_ROOT = { host: '127.0.0.1', port: 3306, user: 'root', password: '' }

/** librdkafka's mock cluster through kcat: a real Kafka wire-protocol broker. Killed (SIGKILL) at the end. */
export async function startKafka(t: { after(fn: () => void): void }): Promise<string> {
  const child = spawn(
    'kcat',
    ['-C', '-b', 'localhost:1', '-t', 'warmup', '-X', 'test.mock.num.brokers=1', '-d', 'mock'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  killAtExit(child)
  t.after(() => child.kill('SIGKILL'))
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk
      const m = /bootstrap\.servers=([\d.]+:\d+)/.exec(err)
      if (m) {
        child.stderr.removeAllListeners('data')
        child.stderr.resume()
        resolve(m[1] as string)
      }
    })
    child.on('error', reject)
    child.on('exit', (code) => reject(new Error(`kcat exited ${code}: ${err.slice(-500)}`)))
  })
}

/** One kcat broker for a whole test file: started before its tests, killed after them. */
export function kafkaForFile(): { readonly broker: string } {
  let broker = ''
  const teardown: (() => void)[] = []
  before(async () => {
    broker = await startKafka({ after: (fn) => teardown.push(fn) })
  })
  after(() => {
    for (const fn of teardown) fn()
  })
  return {
    get broker() {
      return broker
    },
  }
}

export function freshTopic(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`
}

export function kafkaClient(
  t: TestContext | { after(fn: () => Promise<void>): void },
  broker: string,
): KafkaClient {
  const client = createKafkaClient([broker], pino({ level: 'silent' }), 'leftright-test')
  t.after(() => client.close())
  return client
}

/** Produce raw string values; the topic exists (auto-created) once this resolves. */
export async function produce(client: KafkaClient, topic: string, values: string[]): Promise<void> {
  const producer = await client.producer()
  try {
    for (let i = 0; i < values.length; i += 2000) await producer.send(topic, values.slice(i, i + 2000))
  } finally {
    await producer.close()
  }
}

/** A database of its own for one test file, dropped afterwards. */
export async function freshDatabase(
  t: { after(fn: () => Promise<void>): void },
  label: string,
): Promise<{ url: string; pool: Pool; name: string }> {
  const name = `lr_${label}_${randomBytes(3).toString('hex')}`
  const admin = await mysql.createConnection(MYSQL_ROOT)
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`)
  await admin.end()
  const pool = mysql.createPool({ ...MYSQL_ROOT, database: name, connectionLimit: 2 })
  t.after(async () => {
    await pool.end()
    const c = await mysql.createConnection(MYSQL_ROOT)
    await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await c.end()
  })
  return { url: `mysql://root@127.0.0.1:3306/${name}`, pool, name }
}

/** A TCP proxy to MySQL that can be taken down (dropping live connections) and brought back on the same port. */
/** A TCP proxy to a local service (MySQL unless told), to take it away and bring it back mid-run. */
export class TcpProxy {
  port = 0
  constructor(private readonly targetPort = MYSQL_ROOT.port) {}

  private server: net.Server | null = null
  private readonly sockets = new Set<net.Socket>()

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as net.AddressInfo).port
    this.server = server
  }

  async down(): Promise<void> {
    const server = this.server
    this.server = null
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  }
}

export const REDIS_URL = 'redis://127.0.0.1:6379'
export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

/** A Redis stream of its own for one test (deleted afterwards), and a client to fill and inspect it. */
export async function freshStream(t: {
  after(fn: () => Promise<void>): void
}): Promise<{ stream: string; redis: import('ioredis').Redis }> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(REDIS_URL)
  const stream = freshTopic('stream')
  t.after(async () => {
    await redis.del(stream)
    redis.disconnect()
  })
  return { stream, redis }
}

/** A RabbitMQ queue of its own for one test (deleted afterwards), and a channel to fill and inspect it. */
export async function freshQueue(t: {
  after(fn: () => Promise<void>): void
}): Promise<{ queue: string; send(bodies: (string | Buffer)[]): Promise<void>; depth(): Promise<number> }> {
  const amqp = (await import('amqplib')).default
  const conn = await amqp.connect(AMQP_URL)
  const ch = await conn.createConfirmChannel()
  const queue = freshTopic('queue')
  await ch.assertQueue(queue, { durable: true })
  t.after(async () => {
    await ch.deleteQueue(queue).catch(() => {})
    await conn.close().catch(() => {})
  })
  return {
    queue,
    async send(bodies) {
      for (const b of bodies)
        ch.sendToQueue(queue, Buffer.isBuffer(b) ? b : Buffer.from(b), { persistent: true })
      await ch.waitForConfirms()
    },
    async depth() {
      return (await ch.checkQueue(queue)).messageCount
    },
  }
}

export const CLICKHOUSE_HTTP = 'http://127.0.0.1:8123'

/** A ClickHouse database of its own for one test (dropped afterwards), and a way to query it. */
export async function freshClickhouse(
  t: { after(fn: () => Promise<void>): void },
  label: string,
): Promise<{ url: string; name: string; query<T>(sql: string): Promise<T[]> }> {
  const { createClient } = await import('@clickhouse/client')
  const name = `lr_${label}_${randomBytes(3).toString('hex')}`
  const client = createClient({ url: CLICKHOUSE_HTTP })
  await client.command({ query: `CREATE DATABASE ${name}` })
  const inDb = createClient({ url: CLICKHOUSE_HTTP, database: name })
  t.after(async () => {
    await inDb.close()
    await client.command({ query: `DROP DATABASE IF EXISTS ${name}` })
    await client.close()
  })
  return {
    url: `${CLICKHOUSE_HTTP}/${name}`,
    name,
    async query<T>(sql: string) {
      const r = await inDb.query({ query: sql, format: 'JSONEachRow' })
      return (await r.json()) as T[]
    },
  }
}
