/**
 * A cache bounded by the total weight (e.g. bytes) of its values, evicting what was not used
 * recently: "second chance" (CLOCK) instead of exact LRU order. A hit only marks its entry; the
 * eviction that needs room passes over marked entries once (unmarking them and moving them to the
 * young end) and drops the first unmarked one. Exact LRU moved the entry on every hit (a delete and
 * a set on the Map), and on the manifest GET path, thousands of hits a second, that churn rebuilt
 * the Map's table again and again.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; weight: number; used: boolean }>();
  private total = 0;

  constructor(private readonly maxWeight: number, private readonly weigh: (value: V) => number) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    entry.used = true;
    return entry.value;
  }

  set(key: K, value: V): void {
    const weight = this.weigh(value);
    if (weight > this.maxWeight) return;
    this.delete(key);
    this.entries.set(key, { value, weight, used: false });
    this.total += weight;
    // Each entry is passed over at most once per call (the new one included, so it is never
    // what makes room for itself), so this ends within one round of the cache.
    let passedNew = false;
    for (const [oldest, entry] of this.entries) {
      if (this.total <= this.maxWeight) break;
      this.entries.delete(oldest);
      const isNew: boolean = oldest === key && !passedNew;
      if (entry.used || isNew) {
        entry.used = false;
        passedNew ||= isNew;
        this.entries.set(oldest, entry);
      } else {
        this.total -= entry.weight;
      }
    }
  }

  delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.weight;
  }
}
