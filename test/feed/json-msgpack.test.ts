import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { unpack } from 'msgpackr'
import { decodeMessage } from '../../src/feed/decode-message.js'
import { JsonToMsgpack } from '../../src/feed/json-msgpack.js'
import { packDoc } from '../../src/store/batch-file.js'
import { repoRoot } from '../helpers.js'

const MAX = 1_000_000

/** The transcoder's bytes for `json`, or null when it leaves it to decodeMessage. */
function fast(json: string | Buffer, max = MAX): Buffer | null {
  const t = new JsonToMsgpack()
  t.reset()
  t.append(Buffer.of(1, 2, 3))
  const value = typeof json === 'string' ? Buffer.from(json) : json
  if (!t.doc(value, max)) {
    assert.deepEqual(t.bytes(), Buffer.of(1, 2, 3), 'nothing is left behind by a value not taken')
    return null
  }
  return Buffer.from(t.bytes().subarray(3))
}

/** Taken ones: the long way accepts them too, and they decode to what it stores (msgpackr's -0 is 0). */
function same(json: string | Buffer, max = MAX): Buffer | null {
  const value = typeof json === 'string' ? Buffer.from(json) : json
  const bytes = fast(value, max)
  if (bytes === null) return null
  const slow = decodeMessage(value, max)
  assert.ok('doc' in slow, `taken, but decodeMessage sets it aside: ${value.toString('utf8').slice(0, 80)}`)
  assert.deepEqual(unpack(bytes), unpack(packDoc(slow.doc)))
  return bytes
}

test('every document of the shipped sample is taken, no longer than msgpackr packs it', () => {
  const lines = readFileSync(path.join(repoRoot, 'data', 'sample', 'sample.jsonl'), 'utf8')
    .trim()
    .split('\n')
  for (const line of lines) {
    const bytes = same(line)
    assert.ok(bytes, `taken: ${line.slice(0, 60)}`)
    // msgpackr gives every map a 3-byte header; a fixmap is 1 byte.
    assert.ok(bytes.length <= packDoc(JSON.parse(line)).length)
  }
})

test('escapes, numbers, nesting and long values are taken and decode to what JSON.parse gives', () => {
  const taken = [
    '{"doc_id":"a","text":"line\\nbreak \\"quoted\\" back\\\\slash \\/ \\t\\r\\b\\f"}',
    '{"doc_id":"a","text":"\\u00e9t\\u00E9 \\u4e2d \\ud83d\\ude00 \\u0000"}',
    ' \n\t{ "doc_id" : "a" , "text" : "x" } \r\n',
    '{"doc_id":"a","text":"","n":[0,-0,1,-1,31,32,127,128,255,256,65535,65536,4294967295,4294967296,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649]}',
    '{"doc_id":"a","text":"x","f":[1.5,-0.25,1e3,1E-3,2.5e+10,12345678901234567890]}',
    '{"doc_id":"a","text":"x","b":true,"c":false,"d":null,"e":{},"g":[]}',
    '{"doc_id":"a","text":"x","meta":{"a":{"b":[{"c":"d"},[1,[2,[3]]]]}}}',
    JSON.stringify({ doc_id: 'a', text: 'y'.repeat(300), long: 'z'.repeat(70_000) }),
    JSON.stringify({ doc_id: 'a', text: 'x', list: Array.from({ length: 20 }, (_, i) => i) }),
    JSON.stringify(
      Object.fromEntries([
        ['doc_id', 'a'],
        ['text', 'x'],
        ...Array.from({ length: 20 }, (_, i) => [`k${i}`, i]),
      ]),
    ),
    JSON.stringify({ doc_id: 'd'.repeat(50), text: '任正非周一在广州访问了联想集团' }),
    JSON.stringify({ doc_id: 'a', text: 'x', é: 1, 'a\nb': 2 }),
  ]
  for (const json of taken) assert.ok(same(json), `taken: ${json.slice(0, 80)}`)
})

test('what is not surely a valid document is left to decodeMessage', () => {
  const left = [
    '',
    'null',
    '[]',
    '{"doc_id":"a","text":"x"',
    '{"doc_id":"a","text":"x"} x',
    '{"doc_id":"a","text":"x",}',
    '{"doc_id":"a" "text":"x"}',
    '{"doc_id":"","text":"x"}',
    '{"doc_id":5,"text":"x"}',
    '{"doc_id":"a"}',
    '{"text":"x"}',
    '{"doc_id":"a","text":7}',
    '{"doc_id":"a","text":"x","doc_id":"b"}',
    '{"doc_id":"a","text":"x","m":{"k":1,"k":2}}',
    `{"doc_id":"${'d'.repeat(51)}","text":"x"}`,
    '{"doc_id":"a","text":"tab\tinside"}',
    '{"doc_id":"a","text":"lone \\ud800 surrogate"}',
    '{"doc_id":"a","text":"bad \\x escape"}',
    '{"doc_id":"a","text":"x","n":01}',
    '{"doc_id":"a","text":"x","n":1.}',
    '{"doc_id":"a","text":"x","n":-}',
    '{"doc_id":"a","text":"x","n":+1}',
    '{"doc_id":"a","text":"x","t":tru}',
    '\ufeff{"doc_id":"a","text":"x"}',
    `{"doc_id":"a","text":"x","deep":${'['.repeat(40)}${']'.repeat(40)}}`,
    `{"doc_id":"a","text":"x","${'k'.repeat(40)}":1}`,
  ]
  for (const json of left) assert.equal(fast(json), null, `left: ${json.slice(0, 80)}`)
  assert.equal(fast(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])), null, 'invalid UTF-8')
  assert.equal(fast('{"doc_id":"a","text":"xxxx"}', 3), null, 'text over the limit')
  assert.ok(fast('{"doc_id":"a","text":"xxx"}', 3), 'text at the limit')
})

test('random documents are taken; random damage to them is either left alone or decodes as JSON.parse does', () => {
  const alphabet = [
    'a',
    'Z',
    ' ',
    '"',
    '\\',
    '/',
    '\n',
    '\t',
    '\u0001',
    'é',
    '中',
    '😀',
    '\u2028',
    '{',
    '}',
    ':',
    ',',
  ]
  const word = (n: number): string =>
    Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('')
  for (let i = 0; i < 2000; i++) {
    const doc = {
      doc_id: word(1 + Math.floor(Math.random() * 10)),
      text: word(Math.floor(Math.random() * 200)),
      n: Math.floor(Math.random() * 2 ** 40) * (Math.random() < 0.5 ? -1 : 1),
      f: Math.random(),
      tags: [word(3), { k: word(2) }],
    }
    const json = JSON.stringify(doc)
    assert.ok(same(json), `taken: ${json}`)
    const damaged = Buffer.from(json)
    for (let k = 0; k < 3; k++)
      damaged[Math.floor(Math.random() * damaged.length)] = randomBytes(1)[0] as number
    same(damaged)
  }
})
