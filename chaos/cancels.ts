// Cancel-and-resume chaos: now and then, right after the driver sent an account its next message, the account is
// cancelled a few milliseconds later (while the step that message starts may be returning, its checkpoint still
// being written behind) and resumed once the cancelled run has had time to stop. A cancel is not a crash: a step
// that returned before the cancel must not run again, and no message may be lost or doubled.
import { Client } from 'pg';
import { DBOSClient } from 'dbos-native';

/** One cancel of an account: the cancel's own stamp (the row's completed_at, what the fence compares with) and when
 *  the resume committed. */
export interface Cancel {
  at: number;
  resumedAt: number;
}

/** A span of time in which Postgres was down or restarting (queued writes wait it out). */
export type Outage = [start: number, end: number];

/** How long after the cancel the resume comes: the cancelled run notices within a second (the executor's tick). */
const RESUME_AFTER_MS = 1500;
/** Cancel this long (at most) after the send. */
const CANCEL_DELAY_MAX_MS = 15;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export class Canceller {
  readonly cancels = new Map<string, Cancel[]>();
  private readonly busy = new Set<string>();
  private readonly tasks: Promise<void>[] = [];
  private client: DBOSClient | undefined;
  private finished = false;

  constructor(
    private readonly dbUrl: string,
    private readonly rate: number,
    private readonly rand: () => number,
    /** No new cancels after this time. */
    private readonly until: number,
    /** Give up resuming after this time (the run then fails: the workflow stays CANCELLED). */
    private readonly deadline: number,
    private readonly report: (text: string) => void,
  ) {}

  get count(): number {
    let n = 0;
    for (const list of this.cancels.values()) n += list.length;
    return n;
  }

  /** Called after each successful send to `id`. */
  afterSend(id: string): void {
    if (this.finished || this.rate <= 0 || Date.now() > this.until || this.busy.has(id) || this.rand() >= this.rate) return;
    this.busy.add(id);
    const delay = this.rand() * CANCEL_DELAY_MAX_MS;
    this.tasks.push(this.cancelAndResume(id, delay).finally(() => this.busy.delete(id)));
  }

  /** Starts no more cancels (the final phase's stop messages must not be followed by one) and waits for every
   *  cancel to be resumed. */
  async finish(): Promise<void> {
    this.finished = true;
    await Promise.all(this.tasks);
    const c = this.client;
    this.client = undefined;
    await c?.destroy().catch(() => undefined);
  }

  private async cancelAndResume(id: string, delay: number): Promise<void> {
    await sleep(delay);
    try {
      this.client ??= await DBOSClient.create({ systemDatabaseUrl: this.dbUrl });
      await this.client.cancelWorkflow(id);
    } catch (e) {
      this.report(`cancelWorkflow: ${(e as Error).message}`);
    }
    // Whether the cancel took effect, and its stamp, come from the row (a failed call may still have committed).
    const row = await this.untilDone(() => this.statusOf(id));
    if (row?.status !== 'CANCELLED' || row.completedAt === null) return;
    await sleep(RESUME_AFTER_MS);
    const resumed = await this.untilDone(async () => {
      this.client ??= await DBOSClient.create({ systemDatabaseUrl: this.dbUrl });
      await this.client.resumeWorkflow(id);
      return true;
    });
    if (!resumed) return;
    const list = this.cancels.get(id) ?? [];
    list.push({ at: row.completedAt, resumedAt: Date.now() });
    this.cancels.set(id, list);
  }

  private async statusOf(id: string): Promise<{ status: string; completedAt: number | null }> {
    const c = new Client({ connectionString: this.dbUrl, connectionTimeoutMillis: 2000 });
    await c.connect();
    try {
      const r = await c.query<{ status: string; completed_at: string | null }>(
        'SELECT status, completed_at FROM dbos.workflow_status WHERE workflow_uuid = $1',
        [id],
      );
      const row = r.rows[0];
      if (!row) throw new Error(`no workflow ${id}`);
      return { status: row.status, completedAt: row.completed_at === null ? null : Number(row.completed_at) };
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Retries `f` (Postgres may be restarting) until it succeeds or the deadline passes. */
  private async untilDone<T>(f: () => Promise<T>): Promise<T | undefined> {
    for (;;) {
      try {
        return await f();
      } catch (e) {
        this.report((e as Error).message);
        if (Date.now() > this.deadline) return undefined;
        await sleep(500);
      }
    }
  }
}

/**
 * Whether a step execution logged at `ranAt` that was not the last run of its checkpoint is explained by a cancel
 * of its workflow: the step returned after the cancel (so the fence refused its checkpoint), or its checkpoint,
 * queued before the cancel, could not commit before the resume because Postgres was down in between. A step that
 * returned before a cancel and ran again is not explained (the step log's time is taken just before the step
 * returns, so a 2 ms margin covers the return itself).
 */
export function cancelExplains(cancels: Cancel[] | undefined, outages: Outage[], ranAt: number): boolean {
  return (cancels ?? []).some(
    (c) =>
      (ranAt >= c.at - 2 && ranAt <= c.resumedAt + 1000) ||
      (ranAt <= c.at && outages.some(([start, end]) => start <= c.resumedAt && end >= ranAt)),
  );
}
