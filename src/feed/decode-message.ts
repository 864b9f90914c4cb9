import { unpack } from 'msgpackr'
import type { Doc } from '../core/contracts.js'
import { acceptDoc } from '../store/batch-file.js'

/**
 * A Kafka message value: JSON `{doc_id, text}` (msgpack accepted too).
 * Returns the document, or the reason it is set aside.
 */
export function decodeMessage(value: Buffer | null, maxTextBytes: number): { doc: Doc } | { reason: string } {
  if (value === null || value.length === 0) return { reason: 'empty message value' }
  let parsed: unknown
  const first = value[0] as number
  // '{' (0x7b) or whitespace: JSON. A msgpack map starts with 0x80-0x8f, 0xde or 0xdf.
  if (first === 0x7b || first === 0x20 || first === 0x0a || first === 0x09 || first === 0x0d) {
    try {
      parsed = JSON.parse(value.toString('utf8'))
    } catch (err) {
      return { reason: `not valid JSON (${(err as Error).message})` }
    }
  } else {
    try {
      parsed = unpack(value)
    } catch {
      return { reason: 'neither JSON nor msgpack' }
    }
  }
  return acceptDoc(parsed, maxTextBytes)
}
