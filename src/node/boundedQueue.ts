import { InvalidArgument } from '../scramble/errors.js';

/**
 * Queues between the network and the mixing logic. Both are bounded: a flood
 * must turn into counted drops, never into unbounded memory (a mix that can be
 * pushed into swapping or an OOM kill is a mix an adversary can switch off).
 */
function checkCapacity(capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new InvalidArgument(`queue capacity must be a positive integer, got ${capacity}`);
  }
}

/** FIFO ring buffer of fixed capacity; every operation is O(1). */
export class BoundedQueue<T> {
  readonly capacity: number;
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    checkCapacity(capacity);
    this.capacity = capacity;
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.count;
  }

  /** Appends; false when full (the caller counts a drop; the item is not kept). */
  push(item: T): boolean {
    if (this.count === this.capacity) return false;
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    // Release the reference so a drained queue pins no packet buffers.
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }
}

interface Timed<T> {
  dueMs: number;
  /** Insertion counter: equal due times leave in the order they arrived. */
  seq: number;
  item: T;
}

/**
 * Items held until a due time (the per-hop mixing delay), as a binary min-heap
 * on (dueMs, insertion order). push and each popped item cost O(log n).
 */
export class DelayQueue<T> {
  readonly capacity: number;
  private readonly heap: Array<Timed<T>> = [];
  private seq = 0;

  constructor(capacity: number) {
    checkCapacity(capacity);
    this.capacity = capacity;
  }

  get length(): number {
    return this.heap.length;
  }

  /** Holds `item` until `dueMs`; false when full (the caller counts a drop). */
  push(item: T, dueMs: number): boolean {
    if (Number.isNaN(dueMs)) throw new InvalidArgument('due time must be a number');
    if (this.heap.length === this.capacity) return false;
    this.heap.push({ dueMs, seq: this.seq++, item });
    this.siftUp(this.heap.length - 1);
    return true;
  }

  /** Removes and returns every item due at or before `nowMs`, earliest first. */
  popDue(nowMs: number): T[] {
    const out: T[] = [];
    while (this.heap.length > 0 && this.heap[0].dueMs <= nowMs) out.push(this.popMin().item);
    return out;
  }

  /** When the earliest item falls due: what the caller's timer should wait for. */
  nextDueMs(): number | undefined {
    return this.heap.length > 0 ? this.heap[0].dueMs : undefined;
  }

  private popMin(): Timed<T> {
    const top = this.heap[0];
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private before(a: Timed<T>, b: Timed<T>): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const node = h[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(node, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = node;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const node = h[i];
    const n = h.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(h[right], h[left]) ? right : left;
      if (!this.before(h[child], node)) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = node;
  }
}
