/**
 * The order SCAN walks a keyspace in, and what its cursor means.
 *
 * Every key gets a **slot** when it is created: the next number of a counter that only grows
 * (1, 2, 3, ...). The slot stays with the key until the key is removed; overwriting or reading it
 * keeps it, and a key removed and created again gets a new, larger slot. SCAN visits keys in slot
 * order, and its cursor is the slot to resume from; 0 starts an iteration, and a reply cursor of 0
 * says there is nothing left.
 *
 * Redis's guarantee (redis.io/commands/scan: "a full iteration always retrieves all the elements
 * that were present in the collection from the start to the end of a full iteration") holds by
 * construction: a key present throughout keeps its slot, every call returns the live keys of
 * `[cursor, next)`, the cursors only grow, and the iteration ends only once no slot at or after the
 * cursor is live. Keys created during the iteration get slots above every cursor so far, so they may
 * or may not be returned (allowed); a key removed before the cursor reaches it is not returned.
 * Unlike Redis's reverse-binary bucket cursor (dict.c `dictScan`), which may return a key twice when
 * the table is resized, this order returns each stored key at most once per iteration (a key deleted
 * and created again meanwhile is a new key with a new slot, and may come back).
 *
 * Cost: an array of items in slot order with removed ones left as holes until they
 * outnumber the live ones, then compacted, which keeps slot numbers (so cursors held by clients stay
 * valid); a call binary-searches its cursor, O(log n + count + holes skipped); a removal is O(1)
 * (amortized, with the compaction).
 */
export interface Slotted {
  /** The item's slot while it is in a `ScanOrder`. Set by `ScanOrder.add`. */
  slot: number;
  /** Where the item sits in the order's arrays (moved by compaction), so removal is O(1). Set by `ScanOrder`. */
  scanIndex: number;
}

export class ScanOrder<T extends Slotted> {
  /** Slots in increasing order, holes included: the search key for cursors and removals. */
  private slots: number[] = [];
  /** The item of each slot, or undefined for a removed one (a hole). */
  private items: Array<T | undefined> = [];
  private live = 0;
  private nextSlot = 1;

  /** A newly created key: it takes the next slot. */
  add(item: T): void {
    item.slot = this.nextSlot++;
    item.scanIndex = this.items.length;
    this.slots.push(item.slot);
    this.items.push(item);
    this.live++;
  }

  /** A key left the keyspace: its slot becomes a hole. */
  remove(item: T): void {
    const i = item.scanIndex;
    if (this.items[i] !== item) return;
    this.items[i] = undefined;
    this.live--;
    if (this.items.length > 2 * this.live + 64) this.compact();
  }

  /** Every key left (FLUSHALL). The slot counter goes on, so an old cursor finds nothing it did not see. */
  clear(): void {
    this.slots = [];
    this.items = [];
    this.live = 0;
  }

  /**
   * Up to `count` live items from slot `cursor` on, in slot order, and the cursor to continue from:
   * the slot of the next live item, or 0 when there is none.
   */
  page(cursor: number, count: number): { items: T[]; next: number } {
    const items = this.items;
    let i = this.lowerBound(cursor);
    const out: T[] = [];
    for (; i < items.length && out.length < count; i++) {
      const item = items[i];
      if (item !== undefined) out.push(item);
    }
    while (i < items.length && items[i] === undefined) i++;
    return { items: out, next: i < items.length ? this.slots[i]! : 0 };
  }

  /** Drops the holes; slots stay as they are, so cursors held by clients keep their meaning. */
  private compact(): void {
    const slots: number[] = [];
    const items: T[] = [];
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i];
      if (item === undefined) continue;
      item.scanIndex = items.length;
      slots.push(this.slots[i]!);
      items.push(item);
    }
    this.slots = slots;
    this.items = items;
  }

  /** The index of the first slot at least `slot`. */
  private lowerBound(slot: number): number {
    const slots = this.slots;
    let lo = 0;
    let hi = slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (slots[mid]! < slot) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
