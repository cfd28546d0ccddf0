// c. The same as event-latency, but the waiting getEvent is each SDK's own DBOSClient with its default
// options (the official client polls every 10 s; that is the comparison). Few samples, with a time cap.
import { Mailbox, boundedLoop, now, percentile, sleep, withTimeout, type Metric, type Scenario } from '../scenario';
import { registerResponder, startLoop } from './common';

const SAMPLES = 5;
const GAP_MS = 50;
const TOPIC = 'go';
const GET_EVENT_TIMEOUT_S = 30;
const key = (i: number): string => `k${i}`;

export const clientEventLatency: Scenario = {
  id: 'client-event-latency',
  title: 'setEvent→getEvent latency (DBOSClient.getEvent waiting)',
  note: `each SDK's own DBOSClient with default options (the official one polls every 10 s); ${SAMPLES} samples (after an untimed 1 s getEvent that opens its connections), capped at 70 s per SDK`,
  timeCapMs: 70_000,
  prepare(sdk) {
    const setCalls = new Mailbox<number>();
    const wf = registerResponder(sdk, 'client-event-latency.publisher', { topic: TOPIC, arrivals: setCalls, eventKey: key });
    return async (ctx) => {
      const client = await sdk.createClient();
      const loop = await startLoop(sdk, wf, SAMPLES + 1, TOPIC);
      const latencies: number[] = [];
      try {
        // Warm up: opens the client's connections (and a LISTEN, for a client that has one). Untimed.
        await client.getEvent(loop.id, 'warmup', 1);
        const n = await boundedLoop(SAMPLES, ctx.deadline, async (i) => {
          const got = client.getEvent<number>(loop.id, key(i), GET_EVENT_TIMEOUT_S);
          got.catch(() => undefined); // awaited below; no unhandled rejection if the send fails first
          await sleep(GAP_MS);
          await client.send(loop.id, i, TOPIC);
          const value = await withTimeout(got, (GET_EVENT_TIMEOUT_S + 5) * 1000, `client getEvent ${key(i)}`);
          const t1 = now();
          if (value !== i) throw new Error(`client getEvent ${key(i)} returned ${String(value)}`);
          const t0 = await setCalls.take(i, 1000, `setEvent time of ${key(i)}`);
          latencies.push(t1 - t0);
          ctx.log(`  sample ${i + 1}: ${(t1 - t0).toFixed(1)} ms`);
        });
        ctx.countOps(n);
      } finally {
        ctx.recordSamples('latency_ms', latencies);
        await loop.stop();
        await client.destroy();
      }
      const metrics: Metric[] = [50, 100].map((p) => ({
        name: p === 100 ? 'max' : `p${p}`,
        value: percentile(latencies, p),
        unit: 'ms',
        better: 'lower',
        samples: latencies.length,
      }));
      return metrics;
    };
  },
};
