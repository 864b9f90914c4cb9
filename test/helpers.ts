import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  closeSync,
  createWriteStream,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import type { Marker } from '../src/store/markers.js'
import { killAtExit, undoAtExit } from './leftovers.js'

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
export const cliPath = path.join(repoRoot, 'bin', 'leftright.js')

/** A tmpfs of `size` (`8m`) mounted for the test (CI runs as root), unmounted when it ends. */
export function smallDisk(t: TestContext, size: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lr-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  const unmount = (): void => {
    execFileSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
  }
  const done = undoAtExit(unmount)
  t.after(() => {
    done()
    unmount()
  })
  return dir
}

/**
 * Fill the file system holding `dir` until `leave` bytes are free (0: full, to the last byte);
 * returns the filler file, to delete when space should come back.
 */
export function fillDisk(dir: string, leave = 0): string {
  const filler = path.join(dir, 'filler')
  const fd = openSync(filler, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    if (leave > 0) {
      const s = statfsSync(dir)
      const size = s.bavail * s.bsize - leave
      for (let done = 0; done < size; ) done += writeSync(fd, chunk, 0, Math.min(chunk.length, size - done))
    } else {
      // Halve the write at each ENOSPC until not one byte more fits.
      for (let size = chunk.length; size >= 1; ) {
        try {
          writeSync(fd, chunk, 0, size)
        } catch {
          size = Math.floor(size / 2)
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return filler
}

/** A fresh temp folder removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'lr-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  const remove = (): void => rmSync(dir, { recursive: true, force: true })
  const done = undoAtExit(remove)
  t.after(() => {
    done()
    remove()
  })
  return dir
}

export function writeJsonl(file: string, docs: unknown[]): void {
  writeFileSync(file, `${docs.map((d) => (typeof d === 'string' ? d : JSON.stringify(d))).join('\n')}\n`)
}

export function makeDocs(n: number, prefix = 'doc'): { doc_id: string; text: string }[] {
  const texts = [
    'Jack Ma founded Alibaba in Hangzhou before moving to Shanghai.',
    '雷军在北京宣布小米公司将在武汉建设新工厂。',
    'Tim Cook met engineers from Nvidia in San Francisco.',
    '马化腾表示腾讯将继续在深圳投资。',
  ]
  return Array.from({ length: n }, (_, i) => ({
    doc_id: `${prefix}-${i}`,
    text: texts[i % texts.length] as string,
  }))
}

export interface CliRun {
  child: ChildProcess
  stdout: string[]
  stderr: string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves at the first stdout line that satisfies `pred`. */
  waitForLine(pred: (line: string) => boolean): Promise<string>
}

/** Spawn the real CLI (compiled) with JSON logs; killed when the test ends if still running. */
export function runCli(t: TestContext, args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    // No disk floor unless a test sets one: a CI machine with little free disk must not pause enqueue or prefetch.
    env: {
      ...process.env,
      LR_LOG_FORMAT: 'json',
      LR_HTTP: 'off',
      LR_SAMPLE: 'off',
      LR_MIN_FREE_DISK: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  killAtExit(child)
  const stdout: string[] = []
  let partial = ''
  const watchers: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = []
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      stdout.push(line)
      for (const w of [...watchers]) {
        if (w.pred(line)) {
          watchers.splice(watchers.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  const run: CliRun = {
    child,
    stdout,
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
    waitForLine: (pred) =>
      new Promise((resolve, reject) => {
        const seen = stdout.find(pred)
        if (seen) return resolve(seen)
        watchers.push({ pred, resolve })
        child.on('exit', () =>
          reject(new Error(`CLI exited before the expected line; stderr: ${run.stderr}`)),
        )
      }),
  }
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    run.stderr += chunk
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return run
}

export function logRecords(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** How many JSON log lines have a message that includes `text`. */
export function linesSaying(lines: string[], text: string): number {
  return logRecords(lines).filter((r) => String(r.msg).includes(text)).length
}

export function readMarkers(dataDir: string): Map<string, Marker> {
  const out = new Map<string, Marker>()
  for (const name of readdirSync(path.join(dataDir, 'right'))) {
    if (name.startsWith('.')) continue
    const text = readFileSync(path.join(dataDir, 'right', name), 'utf8')
    // Empty: created by a claimer killed before it wrote the marker. A claim all the same.
    out.set(name, text.trim() === '' ? ({ state: 'claimed' } as Marker) : (JSON.parse(text) as Marker))
  }
  return out
}

/** doc_id -> how many result records name it, over all results/*.jsonl. */
export function resultCounts(dataDir: string): Map<string, number> {
  const counts = new Map<string, number>()
  const dir = path.join(dataDir, 'results')
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue
    for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (!line) continue
      const id = (JSON.parse(line) as { doc_id: string }).doc_id
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
  }
  return counts
}

/** right/<id>: tests write, read and backdate markers by hand to set up the states they check. */
export const markerPath = (layout: { right: string }, id: string): string => path.join(layout.right, id)

/**
 * `enqueue` reading a named pipe into `dataDir` in batches of 10, with `docs` documents written
 * into the pipe and the pipe left open: the enqueue is still a writer until `input.end()`.
 */
export function enqueueFromPipe(
  t: TestContext,
  dataDir: string,
  docs: number,
): { run: CliRun; input: ReturnType<typeof createWriteStream> } {
  const fifo = path.join(dataDir, 'input.fifo')
  execFileSync('mkfifo', [fifo])
  const run = runCli(t, ['enqueue', fifo, '--data-dir', dataDir, '--batch-size', '10'])
  const input = createWriteStream(fifo)
  t.after(() => input.destroy())
  input.write(
    `${makeDocs(docs, 'piped')
      .map((d) => JSON.stringify(d))
      .join('\n')}\n`,
  )
  return { run, input }
}
