import type { Micros } from './time.ts';

/**
 * One scheduled callback. `time` and `seq` order the queue; `index` is the entry's slot in the
 * heap (-1 once it has fired or been cancelled), which is what makes cancel O(log n).
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
  index: number;
}

/**
 * Min-heap of entries ordered by (time, insertion sequence). Ties are FIFO, so two events at the
 * same instant always run in the order they were scheduled (DESIGN decision 1).
 * Insert and cancel are O(log n); peek is O(1).
 */
export class EventQueue<Owner> {
  private readonly heap: QueueEntry<Owner>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Sequence number the next pushed entry will get (used by tests and trace ordering). */
  get sequence(): number {
    return this.nextSeq;
  }

  push(time: Micros, run: (arg?: unknown) => void, owner: Owner | null, label: string, arg?: unknown): QueueEntry<Owner> {
    const entry: QueueEntry<Owner> = { time, seq: this.nextSeq++, run, arg, owner, label, index: this.heap.length };
    this.heap.push(entry);
    this.siftUp(entry.index);
    return entry;
  }

  peek(): QueueEntry<Owner> | undefined {
    return this.heap[0];
  }

  pop(): QueueEntry<Owner> | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return top;
  }

  /** Removes an entry if it is still queued; returns whether it was. */
  cancel(entry: QueueEntry<Owner>): boolean {
    const i = entry.index;
    if (i < 0 || this.heap[i] !== entry) return false;
    this.removeAt(i);
    return true;
  }

  isQueued(entry: QueueEntry<Owner>): boolean {
    return entry.index >= 0 && this.heap[entry.index] === entry;
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const removed = heap[i]!;
    const last = heap.pop()!;
    removed.index = -1;
    if (i < heap.length) {
      heap[i] = last;
      last.index = i;
      if (i > 0 && before(last, heap[(i - 1) >> 1]!)) this.siftUp(i);
      else this.siftDown(i);
    }
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const entry = heap[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(entry, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = parentIndex;
    }
    heap[i] = entry;
    entry.index = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right]!, heap[left]!)) child = right;
      const c = heap[child]!;
      if (!before(c, entry)) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}

function before<O>(a: QueueEntry<O>, b: QueueEntry<O>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
