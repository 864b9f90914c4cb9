import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AhoCorasick } from '../../src/recognize/builtin/aho-corasick.js'
import { RandomSet } from '../../src/work/random-set.js'

test('Aho-Corasick finds leftmost-longest matches, case-insensitive, on word boundaries', () => {
  const ac = new AhoCorasick(['New York', 'York', 'Rome', '北京', '北京大学', 'he'])
  const text = 'new york and Romeo; ROME, 北京大学在北京. the'
  const found = ac.find(text).map((m) => text.slice(m.start, m.end))
  assert.deepEqual(found, ['new york', 'ROME', '北京大学', '北京'])
})

test('RandomSet adds, deletes and picks only members', () => {
  const s = new RandomSet()
  for (const x of ['a', 'b', 'c', 'd']) s.add(x)
  s.add('a')
  s.delete('b')
  s.delete('zz')
  assert.equal(s.size, 3)
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) seen.add(s.pick() as string)
  assert.deepEqual([...seen].sort(), ['a', 'c', 'd'])
})
