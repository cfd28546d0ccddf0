// e4. First value through DBOSClient.readStream: the client starts reading a fresh workflow's stream before the
// workflow writes anything; after a pause a message makes the workflow write its first value. Latency = when the
// client's `for await` gets it - just before the workflow's writeStream. Default client options.
import { Mailbox, boundedLoop, now, percentile, sleep, withTimeout, type Metric, type Scenario } from '../scenario';
import { registerStreamWriter, startLoop } from './common';

const SAMPLES = 5;
const TOPIC = 'go';
const KEY = 'first';
/** Pause between the client's first read and the trigger: 100, 300, ..., 900 ms (phases of a 1 s poll). */
const gapMs = (i: number): number => 100 + 200 * i;

export const streamFirstValueClient: Scenario = {
  id: 'stream-first-value-client',
  title: 'first value via DBOSClient.readStream (reading before the first write)',
  note: `default client options; ${SAMPLES} fresh workflows after an untimed one, the write ${gapMs(0)}..${gapMs(SAMPLES - 1)} ms after the read started`,
  timeCapMs: 40_000,
  prepare(sdk) {
    const writes = new Mailbox<number>();
    const wf = registerStreamWriter(sdk, 'stream-first-value-client.writer', { topic: TOPIC, key: KEY, writes });
    return async (ctx) => {
      const client = await sdk.createClient();
      const latencies: number[] = [];
      try {
        const n = await boundedLoop(SAMPLES + 1, ctx.deadline, async (i) => {
          const loop = await startLoop(sdk, wf, 1, TOPIC);
          const reader = client.readStream<number>(loop.id, KEY);
          try {
            const first = reader.next(); // starts the read; it finds nothing and waits
            first.catch(() => undefined);
            await sleep(i === 0 ? 200 : gapMs(i - 1));
            await sdk.send(loop.id, i, TOPIC);
            const got = await withTimeout(first, 30_000, `first stream value of sample ${i}`);
            const t1 = now();
            if (got.done || got.value !== i) throw new Error(`first stream value of sample ${i}: ${JSON.stringify(got)}`);
            const t0 = await writes.take(i, 1000, `write time of ${i}`);
            if (i > 0) {
              latencies.push(t1 - t0);
              ctx.log(`  sample ${i}: write ${gapMs(i - 1)} ms after the read started, delivered ${(t1 - t0).toFixed(1)} ms later`);
            }
          } finally {
            await withTimeout(reader.return(undefined), 30_000, 'closing the client reader');
            await withTimeout(loop.handle.getResult(), 30_000, 'the writer to finish');
          }
        });
        ctx.countOps(n);
      } finally {
        ctx.recordSamples('latency_ms', latencies);
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
