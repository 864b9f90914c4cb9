/**
 * Parsers for setting values: each says what it expects, and returns undefined
 * for a value that does not fit (the loader then names the setting, where the
 * value came from, and this `expected`).
 */
export interface Parser<T> {
  expected: string
  parse(raw: string): T | undefined
}

export type DiskFloor = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number }

export const int = (min: number, max: number, expected: string): Parser<number> => ({
  expected,
  parse: (raw) => {
    if (!/^\d+$/.test(raw.trim())) return undefined
    const n = Number(raw)
    return n >= min && n <= max ? n : undefined
  },
})

export const ms = (min: number, max: number): Parser<number> =>
  int(min, max, min > 0 ? `milliseconds from ${min} to ${max}` : `milliseconds (up to ${max})`)

export const text = (expected: string): Parser<string> => ({
  expected,
  parse: (raw) => (raw.trim() === '' ? undefined : raw.trim()),
})

export const oneOf = <T extends string>(...values: T[]): Parser<T> => ({
  expected: values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : String(values[0]),
  parse: (raw) => ((values as string[]).includes(raw.trim()) ? (raw.trim() as T) : undefined),
})

/** An optional value: empty, `off` or `unset` means null; otherwise it must match `re`. */
export const optional = (re: RegExp, expected: string): Parser<string | null> => ({
  expected,
  parse: (raw) => {
    const t = raw.trim()
    if (t === '' || t === 'off' || t === 'unset') return null
    return re.test(t) ? t : undefined
  },
})

/** SQL identifiers are interpolated (quoted) into statements, so only plain names are accepted. */
export const tableName: Parser<string> = {
  expected: 'a table name of letters, digits and _ (at most 64)',
  parse: (raw) => (/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(raw.trim()) ? raw.trim() : undefined),
}

export const diskFloor: Parser<DiskFloor> = {
  expected: 'a percentage like 5% or a size like 2GB',
  parse: (raw) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(%|b|kb|mb|gb|tb)?\s*$/i.exec(raw)
    if (!m) return undefined
    const value = Number(m[1])
    const unit = (m[2] ?? 'b').toLowerCase()
    if (unit === '%') return value <= 100 ? { kind: 'percent', value } : undefined
    const scale: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }
    return { kind: 'bytes', value: Math.round(value * (scale[unit] ?? 1)) }
  },
}

export const brokers: Parser<string[] | null> = {
  expected: 'host:port[,host:port...]',
  parse: (raw) => {
    const t = raw.trim()
    if (t === '' || t === 'off') return null
    const list = t.split(',').map((s) => s.trim())
    return list.every((b) => /^[\w.-]+:\d{1,5}$/.test(b)) ? list : undefined
  },
}

/** A size for log rotation: `N` (MB) or `Nk`, `Nm`, `Ng`. */
export const rotateSize: Parser<string> = {
  expected: 'a size like 500k, 10m or 1g',
  parse: (raw) => (/^\d+[kmg]?$/i.test(raw.trim()) ? raw.trim().toLowerCase() : undefined),
}

/** The Levenshtein distance, for "did you mean" on misspelt names. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length] as number
}
