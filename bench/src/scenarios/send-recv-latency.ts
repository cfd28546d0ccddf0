// a. One-way send→recv latency: a workflow is blocked in DBOS.recv(topic); plain code calls DBOS.send. The
// workflow reads performance.now() as soon as recv returns; latency = that - performance.now() just before send.
// Same process, same clock: no second hop is measured.
import { Mailbox, boundedLoop, latencyMetrics, now, sleep, type Scenario } from '../scenario';
import { registerResponder, startLoop } from './common';

const SAMPLES = 200;
const WARMUP = 10;
/** Pause between samples so that the workflow is back in recv (waiting) when the next message is sent. */
const GAP_MS = 25;
const TOPIC = 'ping';

export const sendRecvLatency: Scenario = {
  id: 'send-recv-latency',
  title: 'send→recv latency (workflow waiting in recv)',
  timeCapMs: 30_000,
  prepare(sdk) {
    const arrivals = new Mailbox<number>();
    const wf = registerResponder(sdk, 'send-recv-latency.receiver', { topic: TOPIC, arrivals });
    return async (ctx) => {
      const loop = await startLoop(sdk, wf, SAMPLES + WARMUP + 1, TOPIC);
      const latencies: number[] = [];
      try {
        await sleep(100); // let the workflow start and block in its first recv
        const n = await boundedLoop(SAMPLES + WARMUP, ctx.deadline, async (i) => {
          const t0 = now();
          const [t1] = await Promise.all([arrivals.take(i, 30_000, `message ${i} to reach the workflow`), sdk.send(loop.id, i, TOPIC)]);
          if (i >= WARMUP) latencies.push(t1 - t0);
          await sleep(GAP_MS);
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
