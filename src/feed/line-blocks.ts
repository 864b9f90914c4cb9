/**
 * The lines of a text stream, a block (one chunk's complete lines) at a time, as bytes (views of
 * the chunk; `toString('utf8')` of each is the line). The same lines as node:readline with
 * `crlfDelay: Infinity` (breaks at \n, \r\n and a lone \r; a last line without a break counts;
 * a break at the very end adds no empty line), for less: readline decoded through a
 * StringDecoder and handed over each line with its own promise, about a tenth of `enqueue`'s CPU
 * on 200k documents. A block is cut after its last \n, where a UTF-8 character cannot be split.
 * Bytes, because enqueue packs most lines without making a string of them (json-msgpack.ts).
 */
export async function* lineBlocks(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer[]> {
  let rest: Buffer | null = null
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    const buf: Buffer = rest ? Buffer.concat([rest, bytes]) : bytes
    let end = buf.lastIndexOf(0x0a) + 1
    if (end === 0) {
      // No \n yet: a line longer than a chunk, or breaks that are lone \r (cut at the last one
      // that cannot be the first half of a \r\n split across chunks).
      end = buf.length > 1 ? buf.lastIndexOf(0x0d, buf.length - 2) + 1 : 0
    }
    if (end === 0) {
      rest = buf
      continue
    }
    rest = end < buf.length ? buf.subarray(end) : null
    yield splitLines(buf.subarray(0, end))
  }
  if (rest && rest.length > 0) yield splitLines(rest)
}

/** Lines of `buf`; a break at its end adds no empty line after it. */
function splitLines(buf: Buffer): Buffer[] {
  const lines: Buffer[] = []
  let start = 0
  if (buf.indexOf(0x0d) < 0) {
    for (let end = buf.indexOf(0x0a); end >= 0; end = buf.indexOf(0x0a, start)) {
      lines.push(buf.subarray(start, end))
      start = end + 1
    }
  } else {
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]
      if (b !== 0x0a && b !== 0x0d) continue
      lines.push(buf.subarray(start, i))
      if (b === 0x0d && buf[i + 1] === 0x0a) i++
      start = i + 1
    }
  }
  if (start < buf.length) lines.push(buf.subarray(start))
  return lines
}
