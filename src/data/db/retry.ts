/**
 * Bounded retries for a long job's database calls (the batch): a call that fails because the database cannot be
 * reached (isDatabaseUnreachable) is tried again after 1 s, 2 s, 4 s, 8 s and then every 15 s, until the outage has
 * lasted the budget (default 120 s). One DatabaseRetry is shared by every call of a job, so concurrent calls share
 * one outage and one budget; once it is spent, every later call fails at once with the same DatabaseOutageError, and
 * the job winds down instead of waiting again for each call. Any other error passes through untouched.
 */
import { DatabaseError, isDatabaseUnreachable } from './errors.js';

export interface DatabaseRetryPolicy {
  /** how long one outage may last, from the first failed call, before giving up */
  budgetMs: number;
  /** the first wait; each next one doubles, up to maxDelayMs */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_DATABASE_RETRY: DatabaseRetryPolicy = { budgetMs: 120_000, firstDelayMs: 1_000, maxDelayMs: 15_000 };

/** What a retry tells its listener before it waits. */
export interface DatabaseRetryNotice {
  /** what was being done, e.g. "reading K-lines" */
  what: string;
  /** 1 for the first retry of this call */
  attempt: number;
  delayMs: number;
  /** since the first failed call of this outage */
  downForMs: number;
  /** the driver's code (ECONNREFUSED, PROTOCOL_CONNECTION_LOST …) */
  code: string;
}

/** The database stayed unreachable for the whole retry budget. */
export class DatabaseOutageError extends DatabaseError {
  constructor(
    readonly what: string,
    readonly downForMs: number,
    readonly since: Date,
    cause: unknown,
  ) {
    const code = driverCode(cause);
    super(
      `database outage: the database did not answer for ${Math.round(downForMs / 1000)} s (${code}) while ${what}; gave up retrying`,
      'db_outage',
      null,
      null,
      { cause },
    );
    this.name = 'DatabaseOutageError';
  }
}

function driverCode(err: unknown): string {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++, e = e.cause as typeof e) {
    if (typeof e.code === 'string') return e.code;
  }
  return 'no answer';
}

/** Time as DatabaseRetry sees it: the wall clock, or a test's own (so that a budget is exact however loaded the machine). */
export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const WALL_CLOCK: RetryClock = { now: () => Date.now(), sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

export class DatabaseRetry {
  private downSince: number | null = null;
  private gaveUp: DatabaseOutageError | null = null;

  constructor(
    private readonly policy: DatabaseRetryPolicy = DEFAULT_DATABASE_RETRY,
    private readonly onRetry?: (notice: DatabaseRetryNotice) => void,
    private readonly clock: RetryClock = WALL_CLOCK,
  ) {}

  /** Set once the budget of an outage was spent: every call since fails with it. */
  get outage(): DatabaseOutageError | null {
    return this.gaveUp;
  }

  /** `fn`, tried again while the database is unreachable. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.gaveUp) throw this.gaveUp;
      try {
        const value = await fn();
        this.downSince = null;
        return value;
      } catch (err) {
        await this.failed(what, err, attempt);
      }
    }
  }

  /**
   * The items of `open()`, reopened after a lost connection. `open` is called again for each retry and must
   * continue where the consumer stands (e.g. the stocks not yet yielded): items already yielded are not repeated
   * by this wrapper, only by an `open` that restarts from the beginning.
   */
  async *stream<T>(what: string, open: () => AsyncIterable<T>): AsyncGenerator<T> {
    for (let attempt = 0; ; ) {
      if (this.gaveUp) throw this.gaveUp;
      try {
        for await (const item of open()) {
          this.downSince = null;
          attempt = 0;
          yield item;
        }
        this.downSince = null;
        return;
      } catch (err) {
        await this.failed(what, err, attempt++);
      }
    }
  }

  /** Rethrows anything but an unreachable database; otherwise waits for the next try, or gives up when the budget is spent. */
  private async failed(what: string, err: unknown, attempt: number): Promise<void> {
    if (err instanceof DatabaseOutageError || !isDatabaseUnreachable(err)) throw err;
    const now = this.clock.now();
    this.downSince ??= now;
    const downFor = now - this.downSince;
    const left = this.policy.budgetMs - downFor;
    if (left <= 0) {
      this.gaveUp ??= new DatabaseOutageError(what, downFor, new Date(this.downSince), err);
      throw this.gaveUp;
    }
    const delayMs = Math.min(this.policy.firstDelayMs * 2 ** attempt, this.policy.maxDelayMs, left);
    this.onRetry?.({ what, attempt: attempt + 1, delayMs, downForMs: downFor, code: driverCode(err) });
    await this.clock.sleep(delayMs);
  }
}
