// suggest: "did you mean" for a mistyped name (a component, a context). Edit distance is
// computed here only; each caller keeps its own rule for what counts as close. Pure.

/** Levenshtein distance: insertions, deletions and substitutions, each 1. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Up to `n` names nearest to `name` (edit distance, case-insensitive; a shared prefix counts), nearest first; none that are far off. */
export function closest(name: string, known: string[], n = 3): string[] {
  const q = name.toLowerCase();
  const scored = known.map((k) => {
    const kl = k.toLowerCase();
    const d = editDistance(q, kl);
    const prefix = kl.startsWith(q) || q.startsWith(kl);
    return { k, d: prefix ? Math.min(d, 1) : d };
  });
  const limit = Math.max(2, Math.floor(name.length / 3));
  return scored
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, n)
    .map((s) => s.k);
}
