// d5. DBOSClient.send throughput with 32 concurrent callers: sends completed per second. The destination
// workflow waits in recv on another topic, so nothing consumes the messages: this counts committed inserts only.
import { concurrentLoop, now, rateMetric, type Scenario } from '../scenario';
import { registerResponder, startLoop } from './common';

const CALLERS = 32;
const MAX_SENDS = 100_000;
const DURATION_MS = 5000;
const TOPIC = 'unread';
const STOP_TOPIC = 'stop';

export const clientSendC32: Scenario = {
  id: 'client-send-c32',
  title: `DBOSClient.send, ${CALLERS} concurrent callers (messages not consumed): sends`,
  timeCapMs: DURATION_MS + 15_000,
  prepare(sdk) {
    const wf = registerResponder(sdk, 'client-send-c32.destination', { topic: STOP_TOPIC });
    return async (ctx) => {
      const client = await sdk.createClient();
      const loop = await startLoop(sdk, wf, 1, STOP_TOPIC);
      let ops = 0;
      let elapsed = 0;
      try {
        ctx.countOps(await concurrentLoop(CALLERS, 2 * CALLERS, ctx.deadline, (i) => client.send(loop.id, i, TOPIC)));
        const t0 = now();
        ops = await concurrentLoop(CALLERS, MAX_SENDS, Math.min(ctx.deadline, t0 + DURATION_MS), (i) => client.send(loop.id, i, TOPIC));
        elapsed = now() - t0;
        ctx.countOps(ops);
      } finally {
        await loop.stop();
        await client.destroy();
      }
      return [rateMetric('throughput', ops, elapsed)];
    };
  },
};
