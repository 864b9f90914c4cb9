/**
 * A map that keeps at most `maxEntries`, dropping the least recently used.
 * (A JS Map iterates in insertion order; a hit re-inserts the key at the end.)
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>()

  constructor(readonly maxEntries: number) {
    if (maxEntries < 1) throw new RangeError('maxEntries must be 1 or more')
  }

  get size(): number {
    return this.map.size
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined
    const value = this.map.get(key) as V
    this.map.delete(key)
    this.map.set(key, value)
    return value
  }

  set(key: K, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as K
      this.map.delete(oldest)
    }
  }
}
