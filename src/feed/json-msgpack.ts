import { isUtf8 } from 'node:buffer'

/**
 * A JSON message straight to the msgpack bytes of its document, without making the document:
 * `JSON.parse` of the decoded text, then msgpackr packing the object, cost the prefetcher a
 * third of its time after the group join (bench/RESULTS.md, sixteenth session). A string
 * without escapes is copied byte for byte (UTF-8 in both).
 *
 * Only what is surely a valid document is taken: an object with a `doc_id` of 1 to 50 bytes and
 * a `text` of at most `maxTextBytes`, no key twice in an object, valid UTF-8, no lone surrogate,
 * nesting under 32 levels. Anything else (invalid JSON, a document to set aside, a rarer form)
 * is left to decodeMessage, which says why: the caller falls back on `false`. The bytes decode
 * to what the long way stores: numbers as msgpackr writes them (integers of up to 32 bits as
 * integers, others as float64), every header as small as it can be (msgpackr gives each map a
 * three-byte one).
 */
export class JsonToMsgpack {
  private buf = Buffer.allocUnsafe(64 * 1024)
  /** Where the next byte goes. */
  pos = 0
  private src: Buffer = Buffer.alloc(0)
  private i = 0
  private docId = -1
  private textBytes = -1

  /** The bytes written since the reset (a view: valid until the next write). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  /** Append bytes encoded elsewhere (a document decodeMessage took, packed). */
  append(data: Uint8Array): void {
    this.room(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
  }

  /** Start over (a new batch file's documents). */
  reset(): void {
    this.pos = 0
  }

  /**
   * Append the document of the JSON object in `value`: true, or false with nothing appended
   * (not taken: decode it the long way).
   */
  doc(value: Buffer, maxTextBytes: number): boolean {
    const start = this.pos
    this.src = value
    this.i = 0
    this.docId = -1
    this.textBytes = -1
    try {
      // Copied bytes must be valid UTF-8 (toString would have replaced what is not).
      if (!isUtf8(value)) return this.undo(start)
      this.space()
      if (this.src[this.i] !== 0x7b || !this.object(0, true)) return this.undo(start)
      this.space()
      if (this.i !== value.length) return this.undo(start)
      // A doc_id over 50 bytes may still be 50 characters or fewer: decodeMessage counts them.
      if (this.docId < 1 || this.docId > 50 || this.textBytes < 0 || this.textBytes > maxTextBytes)
        return this.undo(start)
      return true
    } finally {
      this.src = EMPTY
    }
  }

  private undo(start: number): false {
    this.pos = start
    return false
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(bigger, 0, 0, this.pos)
    this.buf = bigger
  }

  private space(): void {
    const s = this.src
    for (;;) {
      const b = s[this.i]
      if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return
      this.i++
    }
  }

  private value(depth: number): boolean {
    const b = this.src[this.i]
    if (b === 0x22) return this.string() >= 0
    if (b === 0x7b) return this.object(depth + 1, false)
    if (b === 0x5b) return this.array(depth + 1)
    if (b === 0x74) return this.literal(TRUE, 0xc3)
    if (b === 0x66) return this.literal(FALSE, 0xc2)
    if (b === 0x6e) return this.literal(NULL, 0xc0)
    return this.number()
  }

  /** At `{`. The document itself (`top`) notes the sizes of its doc_id and text. */
  private object(depth: number, top: boolean): boolean {
    if (depth >= MAX_DEPTH) return false
    const s = this.src
    this.i++
    this.room(1)
    const head = this.pos++
    /** Where each key's bytes start in the output (after its one-byte header), to find one given twice. */
    const keys: number[] = []
    this.space()
    if (s[this.i] === 0x7d) {
      this.i++
    } else {
      for (;;) {
        if (s[this.i] !== 0x22) return false
        const keyBytes = this.string()
        // Keys of 32 bytes or more: not taken (one-byte headers keep the duplicate check simple).
        if (keyBytes < 0 || keyBytes >= 0x20) return false
        const keyStart = this.pos - keyBytes
        for (const k of keys) if (this.sameKey(k, keyStart, keyBytes)) return false
        keys.push(keyStart)
        this.space()
        if (s[this.i] !== 0x3a) return false
        this.i++
        this.space()
        const at = this.pos
        if (!this.value(depth)) return false
        if (top) this.note(keyStart, keyBytes, at)
        this.space()
        const c = s[this.i++]
        if (c === 0x7d) break
        if (c !== 0x2c) return false
        this.space()
      }
    }
    return this.count(head, keys.length, 0x80, 0xde)
  }

  /** A key of the document and its value (written from `at`): the sizes of doc_id and text, -2 when not strings. */
  private note(keyStart: number, keyBytes: number, at: number): void {
    const b = this.buf
    if (keyBytes === 6 && bytesAt(b, keyStart, DOC_ID)) {
      this.docId = stringBytes(b, at, this.pos)
    } else if (keyBytes === 4 && bytesAt(b, keyStart, TEXT)) {
      this.textBytes = stringBytes(b, at, this.pos)
    }
  }

  /** Keys at `a` and `b` (both after a fixstr header), the one at `b` of `n` bytes: the same? */
  private sameKey(a: number, b: number, n: number): boolean {
    const buf = this.buf
    if (((buf[a - 1] as number) & 0x1f) !== n) return false
    for (let j = 0; j < n; j++) if (buf[a + j] !== buf[b + j]) return false
    return true
  }

  /** At `[`. */
  private array(depth: number): boolean {
    if (depth >= MAX_DEPTH) return false
    const s = this.src
    this.i++
    this.room(1)
    const head = this.pos++
    let n = 0
    this.space()
    if (s[this.i] === 0x5d) {
      this.i++
    } else {
      for (;;) {
        if (!this.value(depth)) return false
        n++
        this.space()
        const c = s[this.i++]
        if (c === 0x5d) break
        if (c !== 0x2c) return false
        this.space()
      }
    }
    return this.count(head, n, 0x90, 0xdc)
  }

  /** A map's or array's count into the byte kept for it at `head` (moving its items when it needs more). */
  private count(head: number, n: number, fix: number, wide: number): boolean {
    if (n < 16) {
      this.buf[head] = fix | n
      return true
    }
    if (n > 0xffff) return false
    this.room(2)
    this.buf.copyWithin(head + 3, head + 1, this.pos)
    this.pos += 2
    this.buf[head] = wide
    this.buf.writeUInt16BE(n, head + 1)
    return true
  }

  /** At `"`: the string's msgpack form appended; its length in bytes, or -1 when not taken. */
  private string(): number {
    const s = this.src
    const from = this.i + 1
    const end = s.length
    let j = from
    while (j < end && STOP[s[j] as number] === 0) j++
    if (s[j] !== 0x22) return s[j] === 0x5c ? this.escaped(from) : -1
    const n = j - from
    this.header(n)
    const b = this.buf
    let o = this.pos
    if (n < 48) for (let k = from; k < j; k++) b[o++] = s[k] as number
    else b.set(s.subarray(from, j), o)
    this.pos += n
    this.i = j + 1
    return n
  }

  /** A string with escapes: decoded into place after the widest header, then moved to fit. */
  private escaped(from: number): number {
    const s = this.src
    this.room(5 + (s.length - from))
    const at = this.pos
    let o = at + 5
    const b = this.buf
    let j = from
    for (;;) {
      const c = s[j]
      if (c === undefined || c < 0x20) return -1
      if (c === 0x22) break
      if (c !== 0x5c) {
        b[o++] = c
        j++
        continue
      }
      const e = s[j + 1]
      j += 2
      if (e === 0x22 || e === 0x5c || e === 0x2f) b[o++] = e
      else if (e === 0x6e) b[o++] = 0x0a
      else if (e === 0x74) b[o++] = 0x09
      else if (e === 0x72) b[o++] = 0x0d
      else if (e === 0x62) b[o++] = 0x08
      else if (e === 0x66) b[o++] = 0x0c
      else if (e === 0x75) {
        let u = hex4(s, j)
        j += 4
        if (u < 0) return -1
        if (u >= 0xd800 && u <= 0xdfff) {
          // A pair, or not taken (JSON.parse keeps a lone surrogate; UTF-8 has no form for it).
          if (u > 0xdbff || s[j] !== 0x5c || s[j + 1] !== 0x75) return -1
          const low = hex4(s, j + 2)
          if (low < 0xdc00 || low > 0xdfff) return -1
          j += 6
          u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00)
        }
        o = utf8(b, o, u)
      } else return -1
    }
    const n = o - at - 5
    this.pos = at
    this.header(n)
    b.copyWithin(this.pos, at + 5, o)
    this.pos += n
    this.i = j + 1
    return n
  }

  /** A string's header (room for its bytes too). */
  private header(n: number): void {
    this.room(5 + n)
    if (n < 0x20) this.buf[this.pos++] = 0xa0 | n
    else this.sized(n, 0xd9, 0xda, 0xdb)
  }

  /** An unsigned number after the code for its size: one, two or four bytes. */
  private sized(n: number, c8: number, c16: number, c32: number): void {
    const b = this.buf
    if (n < 0x100) {
      b[this.pos++] = c8
      b[this.pos++] = n
    } else if (n < 0x10000) {
      b[this.pos++] = c16
      b.writeUInt16BE(n, this.pos)
      this.pos += 2
    } else {
      b[this.pos++] = c32
      b.writeUInt32BE(n, this.pos)
      this.pos += 4
    }
  }

  private literal(word: Buffer, code: number): boolean {
    if (!bytesAt(this.src, this.i, word)) return false
    this.i += word.length
    this.room(1)
    this.buf[this.pos++] = code
    return true
  }

  /** JSON's number grammar, then the number as msgpackr writes it. */
  private number(): boolean {
    const s = this.src
    const from = this.i
    let j = from
    if (s[j] === 0x2d) j++
    if (s[j] === 0x30) j++
    else if (isDigit(s[j])) while (isDigit(s[j])) j++
    else return false
    if (s[j] === 0x2e) {
      j++
      if (!isDigit(s[j])) return false
      while (isDigit(s[j])) j++
    }
    if (s[j] === 0x65 || s[j] === 0x45) {
      j++
      if (s[j] === 0x2b || s[j] === 0x2d) j++
      if (!isDigit(s[j])) return false
      while (isDigit(s[j])) j++
    }
    this.i = j
    this.writeNumber(Number(s.toString('latin1', from, j)))
    return true
  }

  private writeNumber(v: number): void {
    this.room(9)
    const b = this.buf
    if (v >>> 0 === v) {
      if (v < 0x80) b[this.pos++] = v
      else this.sized(v, 0xcc, 0xcd, 0xce)
    } else if (v >> 0 === v) {
      if (v >= -0x20) b[this.pos++] = 0x100 + v
      else if (v >= -0x80) {
        b[this.pos++] = 0xd0
        b[this.pos++] = v + 0x100
      } else if (v >= -0x8000) {
        b[this.pos++] = 0xd1
        b.writeInt16BE(v, this.pos)
        this.pos += 2
      } else {
        b[this.pos++] = 0xd2
        b.writeInt32BE(v, this.pos)
        this.pos += 4
      }
    } else {
      b[this.pos++] = 0xcb
      b.writeDoubleBE(v, this.pos)
      this.pos += 8
    }
  }
}

const MAX_DEPTH = 32
/** Bytes that end a run of a string's bytes copied as they are: a quote, a backslash, a control byte. */
const STOP = new Uint8Array(256)
for (let b = 0; b < 0x20; b++) STOP[b] = 1
STOP[0x22] = 1
STOP[0x5c] = 1
const EMPTY = Buffer.alloc(0)
const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')
const DOC_ID = Buffer.from('doc_id')
const TEXT = Buffer.from('text')

function bytesAt(b: Buffer, at: number, word: Buffer): boolean {
  for (let j = 0; j < word.length; j++) if (b[at + j] !== word[j]) return false
  return true
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39

function hex4(s: Buffer, j: number): number {
  let u = 0
  for (let k = j; k < j + 4; k++) {
    const c = s[k]
    if (c === undefined) return -1
    const d =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x61 && c <= 0x66
          ? c - 0x57
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : -1
    if (d < 0) return -1
    u = u * 16 + d
  }
  return u
}

function utf8(b: Buffer, o: number, u: number): number {
  if (u < 0x80) b[o++] = u
  else if (u < 0x800) {
    b[o++] = 0xc0 | (u >> 6)
    b[o++] = 0x80 | (u & 0x3f)
  } else if (u < 0x10000) {
    b[o++] = 0xe0 | (u >> 12)
    b[o++] = 0x80 | ((u >> 6) & 0x3f)
    b[o++] = 0x80 | (u & 0x3f)
  } else {
    b[o++] = 0xf0 | (u >> 18)
    b[o++] = 0x80 | ((u >> 12) & 0x3f)
    b[o++] = 0x80 | ((u >> 6) & 0x3f)
    b[o++] = 0x80 | (u & 0x3f)
  }
  return o
}

/** The byte length of the msgpack string written from `at` to `end`, or -2 when it is not a string. */
function stringBytes(b: Buffer, at: number, end: number): number {
  const h = b[at] as number
  if (h >= 0xa0 && h <= 0xbf) return h & 0x1f
  if (h === 0xd9) return end - at - 2
  if (h === 0xda) return end - at - 3
  if (h === 0xdb) return end - at - 5
  return -2
}
