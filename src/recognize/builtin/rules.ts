import { Jieba } from '@node-rs/jieba'
import { dict } from '@node-rs/jieba/dict.js'
import nlp from 'compromise'
import type { Entity, EntityType } from '../../core/contracts.js'

/**
 * Rule-based recognition, offline and deterministic: compromise's people /
 * places / organizations for English, jieba part-of-speech tags (nr person,
 * ns place, nt organisation) for Chinese. Loaded lazily: each takes ~100-200 ms.
 */
let jieba: Jieba | null = null
const CJK = /[\u3400-\u9fff]/
const LATIN = /[A-Za-z]{2}/
const JIEBA_TYPES: Record<string, EntityType> = { nr: 'PER', nrfg: 'PER', nrt: 'PER', ns: 'LOC', nt: 'ORG' }
const TRAILING_PUNCT = /[\s.,;:!?'"()[\]]+$/

export function chineseEntities(text: string): Entity[] {
  if (!CJK.test(text)) return []
  jieba ??= Jieba.withDict(dict)
  const out: Entity[] = []
  let pos = 0
  for (const { word, tag } of jieba.tag(text)) {
    const start = text.indexOf(word, pos)
    if (start < 0) continue
    pos = start + word.length
    const type = JIEBA_TYPES[tag]
    if (type && word.length >= 2) out.push({ text: word, type, start, end: pos, source: 'rule' })
  }
  return out
}

interface CompromiseMatch {
  text: string
  offset?: { start: number; length: number }
}

export function englishEntities(text: string): Entity[] {
  if (!LATIN.test(text)) return []
  const doc = nlp(text)
  const out: Entity[] = []
  const groups: [EntityType, CompromiseMatch[]][] = [
    ['PER', doc.people().json({ offset: true }) as CompromiseMatch[]],
    ['LOC', doc.places().json({ offset: true }) as CompromiseMatch[]],
    ['ORG', doc.organizations().json({ offset: true }) as CompromiseMatch[]],
  ]
  for (const [type, matches] of groups) {
    for (const m of matches) {
      const clean = m.text.replace(TRAILING_PUNCT, '').trim()
      if (clean.length < 2 || !m.offset) continue
      const start = text.indexOf(clean, m.offset.start)
      if (start < 0) continue
      out.push({ text: clean, type, start, end: start + clean.length, source: 'rule' })
    }
  }
  return out
}
