// e3. The same as stream-latency, but the waiting reader is each SDK's own DBOSClient.readStream with its default
// options (the official client has no LISTEN connection and polls a stream every 1 s; that is the comparison).
// The pause before each trigger varies over a 1 s range, so the write lands at every phase of a poll interval.
import { Mailbox, boundedLoop, latencyMetrics, sleep, withTimeout, type Scenario } from '../scenario';
import { drainStream, registerStreamWriter, startLoop } from './common';

const SAMPLES = 20;
const WARMUP = 2;
const TOPIC = 'go';
const KEY = 'latency';
/** 25 ms .. 1 s, spread evenly over the samples (a fixed, reproducible order). */
const gapMs = (i: number): number => 25 + ((i * 7) % SAMPLES) * (1000 / SAMPLES);

export const streamLatencyClient: Scenario = {
  id: 'stream-latency-client',
  title: 'writeStream→readStream latency (DBOSClient.readStream waiting)',
  note: `each SDK's own DBOSClient with default options (the official one polls streams every 1 s, no LISTEN); ${SAMPLES} samples after ${WARMUP} warm-up ones, triggered 25..1000 ms after the previous delivery`,
  timeCapMs: 60_000,
  prepare(sdk) {
    const writes = new Mailbox<number>();
    const wf = registerStreamWriter(sdk, 'stream-latency-client.writer', { topic: TOPIC, key: KEY, writes });
    return async (ctx) => {
      const client = await sdk.createClient();
      const loop = await startLoop(sdk, wf, SAMPLES + WARMUP, TOPIC);
      const deliveries = new Mailbox<number>();
      const reader = drainStream(client.readStream<number>(loop.id, KEY), deliveries);
      const latencies: number[] = [];
      try {
        const n = await boundedLoop(SAMPLES + WARMUP, ctx.deadline, async (i) => {
          await sleep(gapMs(i));
          await sdk.send(loop.id, i, TOPIC);
          const t1 = await deliveries.take(i, 30_000, `stream value ${i} to reach the client`);
          const t0 = await writes.take(i, 1000, `write time of ${i}`);
          if (i >= WARMUP) latencies.push(t1 - t0);
        });
        ctx.countOps(n);
      } finally {
        ctx.recordSamples('latency_ms', latencies);
        await loop.stop();
        await withTimeout(reader.done, 30_000, 'the client stream reader to end after closeStream').finally(() => client.destroy());
      }
      return latencyMetrics(latencies);
    };
  },
};
