// Workflows shared by several scenarios (each scenario registers its own copy under its own name).
import { randomUUID } from 'node:crypto';
import type { BenchSdk, Handle, Workflow } from '../sdk';
import { Mailbox, now, withTimeout } from '../scenario';

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
