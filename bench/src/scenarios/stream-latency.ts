// e2. writeStream→readStream latency in the app: an in-process DBOS.readStream reader (plain code, outside any
// workflow) is waiting in its `for await` when a message makes the workflow write the next value. Latency =
// performance.now() when the reader's loop gets value i - performance.now() read by the workflow just before
// writeStream(key, i).
import { Mailbox, boundedLoop, latencyMetrics, sleep, withTimeout, type Scenario } from '../scenario';
import { drainStream, registerStreamWriter, startLoop } from './common';

const SAMPLES = 200;
const WARMUP = 10;
/** Time after a delivery before the next trigger, so the reader is back waiting (past its read of the next offset). */
const GAP_MS = 25;
const TOPIC = 'go';
const KEY = 'latency';

export const streamLatency: Scenario = {
  id: 'stream-latency',
  title: 'writeStream→readStream latency (DBOS.readStream waiting)',
  timeCapMs: 30_000,
  prepare(sdk) {
    const writes = new Mailbox<number>();
    const wf = registerStreamWriter(sdk, 'stream-latency.writer', { topic: TOPIC, key: KEY, writes });
    return async (ctx) => {
      const loop = await startLoop(sdk, wf, SAMPLES + WARMUP, TOPIC);
      const deliveries = new Mailbox<number>();
      const reader = drainStream(sdk.readStream<number>(loop.id, KEY), deliveries);
      const latencies: number[] = [];
      try {
        const n = await boundedLoop(SAMPLES + WARMUP, ctx.deadline, async (i) => {
          await sleep(GAP_MS);
          await sdk.send(loop.id, i, TOPIC);
          const t1 = await deliveries.take(i, 30_000, `stream value ${i} to reach the reader`);
          const t0 = await writes.take(i, 1000, `write time of ${i}`);
          if (i >= WARMUP) latencies.push(t1 - t0);
        });
        ctx.countOps(n);
      } finally {
        ctx.recordSamples('latency_ms', latencies);
        await loop.stop();
        await withTimeout(reader.done, 30_000, 'the stream reader to end after closeStream');
      }
      return latencyMetrics(latencies);
    };
  },
};
