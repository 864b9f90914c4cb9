/**
 * Aho-Corasick multi-pattern matcher over UTF-16 code units, case-insensitive
 * (per code unit, so offsets in the text stay exact). Patterns that begin or
 * end with an ASCII letter or digit only match at word boundaries, so "Rome"
 * does not match inside "Romeo"; CJK patterns match anywhere.
 */
export interface AcMatch {
  start: number
  end: number
  pattern: number
}

const WORDCHAR = /[A-Za-z0-9]/

function fold(ch: string): string {
  const lower = ch.toLowerCase()
  return lower.length === 1 ? lower : ch
}

export class AhoCorasick {
  private readonly next: Map<string, number>[] = [new Map()]
  private readonly fail: number[] = [0]
  private readonly out: number[][] = [[]]
  private readonly lengths: number[]
  private readonly boundary: { start: boolean; end: boolean }[]

  constructor(patterns: readonly string[]) {
    this.lengths = patterns.map((p) => p.length)
    this.boundary = patterns.map((p) => ({
      start: WORDCHAR.test(p.charAt(0)),
      end: WORDCHAR.test(p.charAt(p.length - 1)),
    }))
    patterns.forEach((p, i) => {
      if (p.length === 0) return
      let state = 0
      for (const unit of p.split('')) {
        const ch = fold(unit)
        const edges = this.next[state] as Map<string, number>
        let to = edges.get(ch)
        if (to === undefined) {
          to = this.next.length
          edges.set(ch, to)
          this.next.push(new Map())
          this.fail.push(0)
          this.out.push([])
        }
        state = to
      }
      ;(this.out[state] as number[]).push(i)
    })
    // Breadth-first: failure links and inherited outputs.
    const queue: number[] = []
    for (const to of (this.next[0] as Map<string, number>).values()) queue.push(to)
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head] as number
      for (const [ch, to] of this.next[state] as Map<string, number>) {
        queue.push(to)
        let f = this.fail[state] as number
        while (f !== 0 && !(this.next[f] as Map<string, number>).has(ch)) f = this.fail[f] as number
        const target = (this.next[f] as Map<string, number>).get(ch)
        this.fail[to] = target !== undefined && target !== to ? target : 0
        ;(this.out[to] as number[]).push(...(this.out[this.fail[to] as number] as number[]))
      }
    }
  }

  /** All matches that respect word boundaries (possibly overlapping). */
  findAll(text: string): AcMatch[] {
    const found: AcMatch[] = []
    let state = 0
    for (let i = 0; i < text.length; i++) {
      const ch = fold(text.charAt(i))
      while (state !== 0 && !(this.next[state] as Map<string, number>).has(ch))
        state = this.fail[state] as number
      state = (this.next[state] as Map<string, number>).get(ch) ?? 0
      for (const pattern of this.out[state] as number[]) {
        const end = i + 1
        const start = end - (this.lengths[pattern] as number)
        const b = this.boundary[pattern] as { start: boolean; end: boolean }
        if (b.start && start > 0 && WORDCHAR.test(text.charAt(start - 1))) continue
        if (b.end && end < text.length && WORDCHAR.test(text.charAt(end))) continue
        found.push({ start, end, pattern })
      }
    }
    return found
  }

  /** Leftmost-longest, non-overlapping matches. */
  find(text: string): AcMatch[] {
    const all = this.findAll(text).sort((a, b) => a.start - b.start || b.end - a.end)
    const kept: AcMatch[] = []
    let until = 0
    for (const m of all) {
      if (m.start < until) continue
      kept.push(m)
      until = m.end
    }
    return kept
  }
}
