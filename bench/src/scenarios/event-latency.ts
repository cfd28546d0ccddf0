// b. setEvent→getEvent latency in the app: DBOS.getEvent(id, key) is already waiting (outside any workflow)
// when a message makes the workflow call setEvent. Latency = performance.now() when getEvent returns -
// performance.now() read by the workflow just before it calls setEvent.
import { Mailbox, boundedLoop, latencyMetrics, now, sleep, withTimeout, type Scenario } from '../scenario';
import { RECV_TIMEOUT_S, registerResponder, startLoop } from './common';

const SAMPLES = 200;
const WARMUP = 10;
/** Time between calling getEvent and triggering setEvent, so that getEvent is waiting (not polling its first read). */
const GAP_MS = 25;
const TOPIC = 'go';
const key = (i: number): string => `k${i}`;

export const eventLatency: Scenario = {
  id: 'event-latency',
  title: 'setEvent→getEvent latency (DBOS.getEvent waiting)',
  timeCapMs: 30_000,
  prepare(sdk) {
    const setCalls = new Mailbox<number>();
    const wf = registerResponder(sdk, 'event-latency.publisher', { topic: TOPIC, arrivals: setCalls, eventKey: key });
    return async (ctx) => {
      const loop = await startLoop(sdk, wf, SAMPLES + WARMUP + 1, TOPIC);
      const latencies: number[] = [];
      try {
        const n = await boundedLoop(SAMPLES + WARMUP, ctx.deadline, async (i) => {
          const got = sdk.getEvent<number>(loop.id, key(i), RECV_TIMEOUT_S);
          got.catch(() => undefined); // awaited below; no unhandled rejection if the send fails first
          await sleep(GAP_MS);
          await sdk.send(loop.id, i, TOPIC);
          const value = await withTimeout(got, 35_000, `getEvent ${key(i)}`);
          const t1 = now();
          if (value !== i) throw new Error(`getEvent ${key(i)} returned ${String(value)}`);
          const t0 = await setCalls.take(i, 1000, `setEvent time of ${key(i)}`);
          if (i >= WARMUP) latencies.push(t1 - t0);
        });
        ctx.countOps(n);
      } finally {
        ctx.recordSamples('latency_ms', latencies);
        await loop.stop();
      }
      return latencyMetrics(latencies);
    };
  },
};
