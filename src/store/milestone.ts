import { Packr } from 'msgpackr'
import type { Recognized } from '../core/contracts.js'
import { readIfPresent, unlinkIfPresent, writeFileAtomic } from './atomic.js'
import { type Layout, milestoneFile } from './layout.js'

/**
 * milestones/<id>.msgpack: a batch's recognition output, saved before mapping
 * and insert so a retry (sink failure, crash, shutdown) skips the GPU step.
 */
const packr = new Packr({ useRecords: false })

interface MilestoneFile {
  v: 1
  batch: string
  recognizer: string
  docs: Recognized[]
}

export async function loadMilestone(
  layout: Layout,
  id: string,
  recognizer: string,
): Promise<Map<string, Recognized>> {
  const found = new Map<string, Recognized>()
  // Synchronous: asked for every batch, and usually absent (store/atomic.ts says why).
  const data = readIfPresent(milestoneFile(layout, id))
  if (data === null) return found
  try {
    const m = packr.unpack(data) as MilestoneFile
    // A milestone from another recognizer does not stand for this one's output.
    if (m.v === 1 && m.batch === id && m.recognizer === recognizer && Array.isArray(m.docs)) {
      for (const r of m.docs) found.set(r.doc_id, r)
    }
  } catch {
    // A damaged milestone only costs a redo of recognition.
  }
  return found
}

export async function saveMilestone(
  layout: Layout,
  id: string,
  recognizer: string,
  docs: Recognized[],
): Promise<void> {
  const m: MilestoneFile = { v: 1, batch: id, recognizer, docs }
  // Not synced: a milestone saves GPU time; losing it in a power cut costs a redo of recognition.
  await writeFileAtomic(milestoneFile(layout, id), packr.pack(m), { durable: false })
}

export async function deleteMilestone(layout: Layout, id: string): Promise<void> {
  unlinkIfPresent(milestoneFile(layout, id))
}
