import type { Micros } from './time.ts';

/**
 * One scheduled callback. `time` and `seq` order the queue; `slot` is the entry's place in the
 * queue's table (-1 once it has fired or been cancelled), which is what makes cancel O(log n).
 * `owner` is opaque to the queue: the simulation uses it to gate callbacks on process state.
 */
export interface QueueEntry<Owner> {
  readonly time: Micros;
  readonly seq: number;
  /** Called with `arg` when the entry fires. */
  readonly run: (arg?: unknown) => void;
  /**
   * What `run` is called with: a callback shared by many entries (the network's segment arrival)
   * takes its data from here, so that scheduling it makes no closure. Undefined for the others.
   */
  readonly arg: unknown;
  readonly owner: Owner | null;
  readonly label: string;
  slot: number;
}

const INITIAL_CAPACITY = 1024;

/**
 * Min-heap (8-ary: a third of the depth of a binary heap, a node's children side by side in memory) of
 * entries ordered by (time, insertion sequence). Ties are FIFO, so two events at the
 * same instant always run in the order they were scheduled (DESIGN decision 1).
 * Insert and cancel are O(log n); peek is O(1).
 *
 * The heap holds numbers only: each entry sits in a slot of `entries` for as long as it is queued,
 * and the heap orders slots, with every position's time and sequence alongside in typed arrays.
 * Sifting then compares and moves plain numbers, where a heap of entry objects would read an
 * object per comparison and pay the garbage collector's write barrier per move (the heap array
 * is old, the entries young): the two costs that made the queue a large part of every event.
 */
export class EventQueue<Owner> {
  /** The queued entries by slot; a free slot holds undefined. */
  private readonly entries: Array<QueueEntry<Owner> | undefined> = [];
  /** Free slots below `entries.length`, as a stack. */
  private freeSlots = new Int32Array(INITIAL_CAPACITY);
  private freeCount = 0;
  /** Heap position → slot, time and sequence of the entry there. */
  private heapSlot = new Int32Array(INITIAL_CAPACITY);
  private heapTime = new Float64Array(INITIAL_CAPACITY);
  private heapSeq = new Float64Array(INITIAL_CAPACITY);
  /** Slot → heap position. */
  private slotPos = new Int32Array(INITIAL_CAPACITY);
  private count = 0;
  private nextSeq = 0;

  get size(): number {
    return this.count;
  }

  /** Sequence number the next pushed entry will get (used by tests and trace ordering). */
  get sequence(): number {
    return this.nextSeq;
  }

  push(time: Micros, run: (arg?: unknown) => void, owner: Owner | null, label: string, arg?: unknown): QueueEntry<Owner> {
    const seq = this.nextSeq++;
    let slot: number;
    if (this.freeCount > 0) slot = this.freeSlots[--this.freeCount]!;
    else {
      slot = this.entries.length;
      if (slot === this.slotPos.length) this.grow();
    }
    const entry: QueueEntry<Owner> = { time, seq, run, arg, owner, label, slot };
    if (slot === this.entries.length) this.entries.push(entry);
    else this.entries[slot] = entry;
    this.siftUp(this.count++, slot, time, seq);
    return entry;
  }

  peek(): QueueEntry<Owner> | undefined {
    return this.count === 0 ? undefined : this.entries[this.heapSlot[0]!];
  }

  pop(): QueueEntry<Owner> | undefined {
    if (this.count === 0) return undefined;
    const top = this.entries[this.heapSlot[0]!]!;
    this.removeAt(0);
    return top;
  }

  /** Removes an entry if it is still queued; returns whether it was. */
  cancel(entry: QueueEntry<Owner>): boolean {
    if (!this.isQueued(entry)) return false;
    this.removeAt(this.slotPos[entry.slot]!);
    return true;
  }

  isQueued(entry: QueueEntry<Owner>): boolean {
    return entry.slot >= 0 && this.entries[entry.slot] === entry;
  }

  /** Removes the entry at heap position `i`, freeing its slot. */
  private removeAt(i: number): void {
    const slot = this.heapSlot[i]!;
    this.entries[slot]!.slot = -1;
    this.entries[slot] = undefined;
    this.freeSlots[this.freeCount++] = slot;
    const last = --this.count;
    if (i === last) return;
    // The last position's entry fills the hole, then moves up or down to its place.
    const movedSlot = this.heapSlot[last]!;
    const time = this.heapTime[last]!;
    const seq = this.heapSeq[last]!;
    if (i > 0 && before(time, seq, this.heapTime[(i - 1) >> 3]!, this.heapSeq[(i - 1) >> 3]!)) this.siftUp(i, movedSlot, time, seq);
    else this.siftDown(i, movedSlot, time, seq);
  }

  /** Places (slot, time, seq) at position `i` or above it. */
  private siftUp(i: number, slot: number, time: number, seq: number): void {
    const heapSlot = this.heapSlot;
    const heapTime = this.heapTime;
    const heapSeq = this.heapSeq;
    const slotPos = this.slotPos;
    while (i > 0) {
      const parent = (i - 1) >> 3;
      const parentTime = heapTime[parent]!;
      if (!before(time, seq, parentTime, heapSeq[parent]!)) break;
      const parentSlot = heapSlot[parent]!;
      heapSlot[i] = parentSlot;
      heapTime[i] = parentTime;
      heapSeq[i] = heapSeq[parent]!;
      slotPos[parentSlot] = i;
      i = parent;
    }
    heapSlot[i] = slot;
    heapTime[i] = time;
    heapSeq[i] = seq;
    slotPos[slot] = i;
  }

  /** Places (slot, time, seq) at position `i` or below it. */
  private siftDown(i: number, slot: number, time: number, seq: number): void {
    const heapSlot = this.heapSlot;
    const heapTime = this.heapTime;
    const heapSeq = this.heapSeq;
    const slotPos = this.slotPos;
    const n = this.count;
    for (;;) {
      const first = 8 * i + 1;
      if (first >= n) break;
      // The earliest of up to eight children.
      let child = first;
      let childTime = heapTime[first]!;
      let childSeq = heapSeq[first]!;
      const end = first + 8 < n ? first + 8 : n;
      for (let c = first + 1; c < end; c++) {
        const t = heapTime[c]!;
        if (t < childTime || (t === childTime && heapSeq[c]! < childSeq)) {
          child = c;
          childTime = t;
          childSeq = heapSeq[c]!;
        }
      }
      if (!before(childTime, childSeq, time, seq)) break;
      const childSlot = heapSlot[child]!;
      heapSlot[i] = childSlot;
      heapTime[i] = childTime;
      heapSeq[i] = childSeq;
      slotPos[childSlot] = i;
      i = child;
    }
    heapSlot[i] = slot;
    heapTime[i] = time;
    heapSeq[i] = seq;
    slotPos[slot] = i;
  }

  /** Doubles the capacity of the typed arrays (every slot is in use). */
  private grow(): void {
    const capacity = this.slotPos.length * 2;
    const widen = <A extends Int32Array | Float64Array>(from: A, to: A): A => {
      to.set(from);
      return to;
    };
    this.freeSlots = widen(this.freeSlots, new Int32Array(capacity));
    this.heapSlot = widen(this.heapSlot, new Int32Array(capacity));
    this.heapTime = widen(this.heapTime, new Float64Array(capacity));
    this.heapSeq = widen(this.heapSeq, new Float64Array(capacity));
    this.slotPos = widen(this.slotPos, new Int32Array(capacity));
  }
}

/** Whether (time a, sequence a) comes before (time b, sequence b). */
function before(timeA: number, seqA: number, timeB: number, seqB: number): boolean {
  return timeA < timeB || (timeA === timeB && seqA < seqB);
}
