import { workerData } from 'node:worker_threads'
import { loadDictionary } from '../../adapters/entities-tsv.js'
import type { Entity, Recognized } from '../../core/contracts.js'
import { AhoCorasick } from './aho-corasick.js'
import { chineseEntities, englishEntities } from './rules.js'

/**
 * Runs in a piscina worker thread: recognition is CPU-heavy, and on the main
 * thread it would stall claims, heartbeats and I/O.
 */
export interface ThreadTask {
  mode: 'builtin' | 'dictionary'
  docs: { doc_id: string; text: string }[]
}

const { entitiesPath } = workerData as { entitiesPath: string }
const entries = loadDictionary(entitiesPath)
const matcher = new AhoCorasick(entries.map((e) => e.surface))

function overlaps(a: Entity, taken: Entity[]): boolean {
  return taken.some((b) => a.start < b.end && b.start < a.end)
}

export function recognizeText(text: string, mode: ThreadTask['mode']): Entity[] {
  const found: Entity[] = matcher.find(text).map((m) => {
    const entry = entries[m.pattern] as (typeof entries)[number]
    return { text: text.slice(m.start, m.end), type: entry.type, start: m.start, end: m.end, source: 'dict' }
  })
  if (mode === 'builtin') {
    // Dictionary matches win where a rule-based mention overlaps one.
    for (const e of [...englishEntities(text), ...chineseEntities(text)]) {
      if (!overlaps(e, found)) found.push(e)
    }
  }
  return found.sort((a, b) => a.start - b.start)
}

export default function run(task: ThreadTask): Recognized[] {
  return task.docs.map((d) => ({ doc_id: d.doc_id, entities: recognizeText(d.text, task.mode) }))
}
