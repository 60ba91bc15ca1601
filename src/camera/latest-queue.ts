/**
 * A small bounded async queue where the newest item wins: pushing onto a full queue drops the
 * oldest item (counted, and handed to `onDrop` — e.g. to free a frame's memory at once), so a slow
 * consumer sees fresh items and memory stays bounded. In lossless mode nothing is dropped: the
 * producer checks `full` and pauses, `onSpace` resumes it.
 */
export class LatestQueue<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private failWaiter: ((err: unknown) => void) | undefined;
  private closed = false;
  private error: unknown;
  dropped = 0;

  constructor(
    private readonly capacity = 2,
    private readonly lossless?: { onSpace: () => void },
    private readonly onDrop?: (item: T) => void,
  ) {}

  get full(): boolean {
    return this.items.length >= this.capacity;
  }

  push(item: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.clearWaiter();
      w({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (!this.lossless && this.items.length > this.capacity) {
      const dropped = this.items.shift() as T;
      this.dropped++;
      this.onDrop?.(dropped);
    }
  }

  /** Ends iteration once the queued items are taken; with an error, the next take rejects. */
  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    if (this.waiter && this.items.length === 0) {
      const w = this.waiter;
      const f = this.failWaiter;
      this.clearWaiter();
      if (error !== undefined) f?.(error);
      else w({ value: undefined, done: true });
    }
  }

  get size(): number {
    return this.items.length;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (this.lossless && !this.full) this.lossless.onSpace();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.closed) {
      return this.error !== undefined
        ? Promise.reject(this.error)
        : Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new Error('LatestQueue supports one reader'));
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  private clearWaiter(): void {
    this.waiter = undefined;
    this.failWaiter = undefined;
  }
}
