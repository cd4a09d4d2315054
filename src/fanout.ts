// fanout: the bounded fan-out every command runs its targets through. Targets arrive as
// discovery finds them (TargetFeed), at most `concurrency` are worked on at once, one failure
// never stops the others, and an interrupt leaves the rest reported as not attempted.

import type { Target } from "./target.js";

/**
 * Targets as discovery finds them, page by page, so the fan-out starts with the first page of a
 * 5,000-node list instead of after the last. `end()` says no more will come.
 */
export class TargetFeed {
  private readonly items: Target[] = [];
  private taken = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  private waiting: Promise<void> | undefined;

  push(targets: Target[]): void {
    this.items.push(...targets);
    this.release();
  }

  end(): void {
    this.ended = true;
    this.release();
  }

  get size(): number {
    return this.items.length;
  }

  get complete(): boolean {
    return this.ended;
  }

  /** The next target and its index, or undefined once the feed has ended and is empty. */
  async next(): Promise<{ target: Target; index: number } | undefined> {
    while (this.taken >= this.items.length) {
      if (this.ended) return undefined;
      await this.change();
    }
    const index = this.taken++;
    return { target: this.items[index]!, index };
  }

  /** Every target not handed out yet; waits for the feed to end. */
  async rest(): Promise<{ target: Target; index: number }[]> {
    while (!this.ended) await this.change();
    const out = this.items.slice(this.taken).map((target, k) => ({ target, index: this.taken + k }));
    this.taken = this.items.length;
    return out;
  }

  /** Resolves at the next push() or end(). */
  private change(): Promise<void> {
    return (this.waiting ??= new Promise((resolve) => (this.wake = resolve)));
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    this.waiting = undefined;
    wake?.();
  }
}

export interface FanOutOptions<R> {
  concurrency: number;
  /** Once aborted (Ctrl-C), no new target is started; the ones in flight finish. */
  signal?: AbortSignal | undefined;
  /** Called after each target finishes (progress on a terminal); total is 0 while discovery goes on. */
  onResult?: ((r: R, done: number, total: number) => void) | undefined;
}

/**
 * Runs `work` on every target, `concurrency` at once, in the feed's order; one target's failure
 * never stops the others. Targets not started because of an interrupt get `notAttempted`.
 */
export async function fanOut<R>(targets: Target[] | TargetFeed, opts: FanOutOptions<R>, work: (t: Target) => Promise<R>, notAttempted: (t: Target) => Promise<R>): Promise<R[]> {
  const feed = targets instanceof TargetFeed ? targets : new TargetFeed();
  if (!(targets instanceof TargetFeed)) {
    feed.push(targets);
    feed.end();
  }
  const results: R[] = [];
  let done = 0;
  const total = (): number => (feed.complete ? feed.size : 0);
  const unstarted: { target: Target; index: number }[] = [];
  const worker = async (): Promise<void> => {
    while (!opts.signal?.aborted) {
      const next = await feed.next();
      if (!next) return;
      if (opts.signal?.aborted) {
        unstarted.push(next); // interrupted while this worker waited for discovery
        return;
      }
      const r = await work(next.target);
      results[next.index] = r;
      done++;
      opts.onResult?.(r, done, total());
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  // Targets never started are reported too: the user must know which ones were not changed.
  for (const { target, index } of [...unstarted, ...(await feed.rest())]) results[index] = await notAttempted(target);
  return results;
}

/** Runs `fn` over `items`, at most `limit` at once, keeping the order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
