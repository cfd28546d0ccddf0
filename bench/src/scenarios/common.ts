// Workflows shared by several scenarios (each scenario registers its own copy under its own name).
import { randomUUID } from 'node:crypto';
import type { BenchSdk, Handle, Workflow } from '../sdk';
import { Mailbox, concurrentLoop, now, rateMetric, withTimeout, type Scenario } from '../scenario';

/** Longest a workflow waits in recv for the next message before giving up (keeps every run bounded). */
export const RECV_TIMEOUT_S = 30;
/** A message value that tells a loop workflow to return. */
export const STOP = -1;

export interface ResponderOptions {
  topic: string;
  /** Receives performance.now() for sample i right after recv returned it (before setEvent, if any). */
  arrivals?: Mailbox<number>;
  /** If given, the workflow answers sample i with `setEvent(eventKey(i), i)`. */
  eventKey?: (i: number) => string;
}

/**
 * `responder(max)`: up to `max` times, waits in `recv(topic)` for a sample number i, reports its arrival time,
 * then optionally publishes an event. Returns the number of messages handled. Stops at STOP, or after
 * RECV_TIMEOUT_S without a message.
 */
export function registerResponder(sdk: BenchSdk, name: string, opts: ResponderOptions): Workflow<[number], number> {
  const { topic, arrivals, eventKey } = opts;
  return sdk.registerWorkflow(name, async (max: number): Promise<number> => {
    for (let n = 0; n < max; n++) {
      const i = await sdk.recv<number>(topic, RECV_TIMEOUT_S);
      if (i === null || i === STOP) return n;
      arrivals?.put(i, now());
      if (eventKey) await sdk.setEvent(eventKey(i), i);
    }
    return max;
  });
}

/** Starts a loop workflow and gives back its ID and a `stop()` that ends it (bounded in time). */
export async function startLoop(
  sdk: BenchSdk,
  wf: Workflow<[number], number>,
  max: number,
  topic: string,
): Promise<{ id: string; handle: Handle<number>; stop: () => Promise<number> }> {
  const id = `${wf.name}-${randomUUID()}`;
  const handle = await sdk.start(wf, id, max);
  return {
    id,
    handle,
    stop: async () => {
      await sdk.send(id, STOP, topic);
      return withTimeout(handle.getResult(), 30_000, `${wf.name} to finish after STOP`);
    },
  };
}

export interface ThroughputOptions {
  id: string;
  title: string;
  /** Concurrent callers, each looping start + getResult. */
  concurrency: number;
  /** Nominal commits per workflow (for the "% of commit limit"). */
  commitsPerOp: number;
  durationMs: number;
  /** Registers the workflow under test (before launch). */
  register(sdk: BenchSdk): Workflow<[], unknown>;
}

/** Workflow start + getResult throughput with `concurrency` callers: warm-up (2 per caller), then `durationMs`. */
export function workflowThroughput(opts: ThroughputOptions): Scenario {
  const { id, title, concurrency, commitsPerOp, durationMs } = opts;
  return {
    id,
    title,
    timeCapMs: durationMs + 12_000,
    prepare(sdk) {
      const wf = opts.register(sdk);
      return async (ctx) => {
        const once = async (): Promise<void> => {
          const handle = await sdk.start(wf, undefined);
          await withTimeout(handle.getResult(), 30_000, `${wf.name} result`);
        };
        ctx.countOps(await concurrentLoop(concurrency, Math.max(20, 2 * concurrency), ctx.deadline, once));
        const t0 = now();
        const ops = await concurrentLoop(concurrency, 200_000, Math.min(ctx.deadline, t0 + durationMs), once);
        const elapsed = now() - t0;
        ctx.countOps(ops);
        return [{ ...rateMetric('throughput', ops, elapsed), commitLimit: { commitsPerOp, clients: concurrency } }];
      };
    },
  };
}

export interface StreamWriterOptions {
  topic: string;
  key: string;
  /** Receives performance.now() for sample i just before the workflow calls writeStream(key, i). */
  writes: Mailbox<number>;
}

/**
 * `writer(max)`: up to `max` times, waits in `recv(topic)` for a sample number i, reports the time, then
 * `writeStream(key, i)`. At STOP, after `max` values or after RECV_TIMEOUT_S without a message it closes the
 * stream (so readers end) and returns the number of values written.
 */
export function registerStreamWriter(sdk: BenchSdk, name: string, opts: StreamWriterOptions): Workflow<[number], number> {
  const { topic, key, writes } = opts;
  return sdk.registerWorkflow(name, async (max: number): Promise<number> => {
    let n = 0;
    for (; n < max; n++) {
      const i = await sdk.recv<number>(topic, RECV_TIMEOUT_S);
      if (i === null || i === STOP) break;
      writes.put(i, now());
      await sdk.writeStream(key, i);
    }
    await sdk.closeStream(key);
    return n;
  });
}

/**
 * Drains a stream reader in the background, putting performance.now() into `deliveries` for each value
 * (numbers) as soon as the `for await` yields it. `done` settles when the stream ends (or the reader fails).
 */
export function drainStream(reader: AsyncGenerator<number, void, unknown>, deliveries: Mailbox<number>): { done: Promise<number> } {
  const done = (async () => {
    let n = 0;
    for await (const v of reader) {
      deliveries.put(v, now());
      n++;
    }
    return n;
  })();
  done.catch(() => undefined); // awaited by the scenario; no unhandled rejection meanwhile
  return { done };
}
