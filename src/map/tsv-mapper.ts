import { EntityMap, loadDictionary, normalizeSurface } from '../adapters/entities-tsv.js'
import type { Mapper } from '../core/contracts.js'

/** The local TSV (LR_ENTITIES), held in memory whole. */
export class TsvMapper implements Mapper {
  readonly kind = 'tsv'
  private readonly map: EntityMap

  constructor(file: string) {
    this.map = new EntityMap(loadDictionary(file))
  }

  async init(): Promise<void> {}

  async lookupMany(surfaces: Iterable<string>): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>()
    for (const s of surfaces) out.set(normalizeSurface(s), this.map.lookup(s))
    return out
  }

  async close(): Promise<void> {}
}
