/** A set with O(1) add, delete and uniformly random pick (swap-remove on an array). */
export class RandomSet {
  private readonly items: string[] = []
  private readonly index = new Map<string, number>()

  get size(): number {
    return this.items.length
  }

  has(item: string): boolean {
    return this.index.has(item)
  }

  add(item: string): void {
    if (this.index.has(item)) return
    this.index.set(item, this.items.length)
    this.items.push(item)
  }

  delete(item: string): void {
    const i = this.index.get(item)
    if (i === undefined) return
    const last = this.items.pop() as string
    this.index.delete(item)
    if (i < this.items.length) {
      this.items[i] = last
      this.index.set(last, i)
    }
  }

  pick(): string | undefined {
    if (this.items.length === 0) return undefined
    return this.items[Math.floor(Math.random() * this.items.length)]
  }

  clear(): void {
    this.items.length = 0
    this.index.clear()
  }
}
