import assert from 'node:assert/strict'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { lineBlocks } from '../../src/feed/line-blocks.js'

const chunked = (bytes: Buffer, size: number): Buffer[] => {
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

async function viaReadline(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = []
  for await (const l of createInterface({
    input: Readable.from(chunks),
    crlfDelay: Number.POSITIVE_INFINITY,
  }))
    lines.push(l)
  return lines
}

async function viaBlocks(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = []
  for await (const block of lineBlocks(Readable.from(chunks)))
    lines.push(...block.map((l) => l.toString('utf8')))
  return lines
}

test('lineBlocks gives the lines readline gives, whatever the chunking: CRLF, lone CR, empty lines, UTF-8 split across chunks, no final break', async () => {
  const inputs = [
    '{"doc_id":"a","text":"x"}\n{"doc_id":"b","text":"y"}\n',
    'one\r\ntwo\r\n\r\nthree',
    'mac\rstyle\rbreaks\r',
    'mixed\n\rlone\r\r\nend\n\n',
    '杭州 🚀 ä\n第二行 ü\r\n\n最后',
    '',
    '\n',
    '\r\n',
    'no break at all',
    `${'long '.repeat(5000)}\nshort\n`,
  ]
  for (const text of inputs) {
    const bytes = Buffer.from(text, 'utf8')
    for (const size of [1, 2, 3, 5, 7, 64, 65536]) {
      const chunks = chunked(bytes, size)
      assert.deepEqual(
        await viaBlocks(chunks),
        await viaReadline(chunks),
        `${JSON.stringify(text.slice(0, 30))} in chunks of ${size}`,
      )
    }
  }
})
