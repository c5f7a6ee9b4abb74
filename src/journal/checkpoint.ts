import type { Database } from './store.js';

/** SQLite's own default: a checkpoint once the WAL holds this many pages. */
const AUTO_PAGES = 1000;

export interface QuietCheckpointOptions {
  /** Commits since the last checkpoint before one is wanted. */
  afterCommits?: number;
  /** How long the journal must go without a commit before the wanted checkpoint runs. */
  quietMs?: number;
  /** Commits after which it runs at once, quiet or not, so that the WAL cannot grow without end. */
  forceAfterCommits?: number;
}

/**
 * Moves the WAL checkpoint out of the commits. SQLite by default copies the WAL back into the
 * database inside whichever commit crosses 1,000 pages: that commit (a note in escrow, say) then
 * also writes and fsyncs the whole database file, tens of milliseconds on a busy disk. Here the
 * checkpoint runs once the journal has been quiet for a moment instead, between one customer
 * action and the next. Durability is unchanged: every commit is already fsynced in the WAL
 * (synchronous=FULL); a checkpoint only moves committed pages.
 */
export class QuietCheckpoint {
  private commits = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly afterCommits: number;
  private readonly quietMs: number;
  private readonly forceAfterCommits: number;

  constructor(
    private readonly db: Database,
    opts: QuietCheckpointOptions = {},
  ) {
    this.afterCommits = opts.afterCommits ?? 50;
    this.quietMs = opts.quietMs ?? 100;
    this.forceAfterCommits = opts.forceAfterCommits ?? 2000;
    db.pragma('wal_autocheckpoint = 0');
  }

  /** Told of each commit (Ledger.write): arms the checkpoint for the next quiet moment. */
  committed(): void {
    this.commits += 1;
    if (this.commits >= this.forceAfterCommits) return this.run();
    if (this.commits < this.afterCommits) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.quietMs);
    this.timer.unref();
  }

  /** Runs the checkpoint now (PASSIVE: it never waits for a reader, and leaves the rest for next time). */
  run(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.commits = 0;
    if (this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Back to SQLite's own checkpoints (before the database is closed, or handed to other code). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_PAGES}`);
  }
}
