// d4. One-way messages into one workflow from 32 concurrent senders: plain code sends N messages with 32
// concurrent loops of DBOS.send(id, i, topic); the workflow loops on recv until it has all N. Two rates over the
// same N: sent (first send → last send returned) and received (first send → the workflow's recv of the Nth).
//
// N is fixed because the official SDK's recv cost grows with the messages already in the workflow's topic: it
// picks the oldest unconsumed row through the (destination_uuid, topic) index, where consumed rows stay
// (dbos-native reads a partial index of unconsumed rows instead). Compare the received rates at equal N only.
import { randomUUID } from 'node:crypto';
import { concurrentLoop, now, rateMetric, sleep, withTimeout, type Scenario } from '../scenario';
import { RECV_TIMEOUT_S, STOP } from './common';

const SENDERS = 32;
const N = 2000;
const WARMUP = 2 * SENDERS;
const DRAIN_TIMEOUT_MS = 40_000;
const TOPIC = 'm';

export const messagesC32: Scenario = {
  id: 'messages-c32',
  title: `DBOS.send→recv into one workflow, ${SENDERS} concurrent senders: messages`,
  note: `${N} messages (after ${WARMUP} warm-up ones) into one workflow's topic; sent = first send → last send returned, received = first send → the workflow's recv of the last one`,
  timeCapMs: DRAIN_TIMEOUT_MS + 20_000,
  prepare(sdk) {
    let received = 0;
    let lastAt = 0;
    const wf = sdk.registerWorkflow('messages-c32.sink', async (max: number): Promise<number> => {
      let n = 0;
      for (; n < max; n++) {
        const m = await sdk.recv<number>(TOPIC, RECV_TIMEOUT_S);
        if (m === null || m === STOP) break;
        received++;
        lastAt = now();
      }
      return n;
    });
    return async (ctx) => {
      const id = `${wf.name}-${randomUUID()}`;
      const handle = await sdk.start(wf, id, N + WARMUP + 10);
      /** Waits (bounded) until the workflow has received `count` messages in all. */
      const drained = async (count: number, until: number): Promise<void> => {
        while (received < count) {
          if (now() > until) throw new Error(`the workflow received ${received} of ${count} messages in time`);
          await sleep(1);
        }
      };
      let sentMs = 0;
      let receivedMs = 0;
      try {
        const warm = await concurrentLoop(SENDERS, WARMUP, ctx.deadline, (i) => sdk.send(id, i, TOPIC));
        await drained(warm, now() + 10_000);
        const t0 = now();
        const sent = await concurrentLoop(SENDERS, N, ctx.deadline, (i) => sdk.send(id, i, TOPIC));
        sentMs = now() - t0;
        if (sent !== N) throw new Error(`only ${sent} of ${N} messages sent before the time cap`);
        await drained(warm + N, Math.min(ctx.deadline, t0 + DRAIN_TIMEOUT_MS));
        receivedMs = lastAt - t0;
        ctx.countOps(warm + sent);
      } catch (e) {
        // Stop the sink, but report the first failure rather than the clean-up's.
        await sdk.send(id, STOP, TOPIC).catch(() => undefined);
        await withTimeout(handle.getResult(), 10_000, 'the sink to finish after STOP').catch((e2: unknown) => ctx.log(`  clean-up: ${String(e2)}`));
        throw e;
      }
      await sdk.send(id, STOP, TOPIC);
      await withTimeout(handle.getResult(), 30_000, 'the sink to finish after STOP');
      return [rateMetric('sent', N, sentMs), rateMetric('received', N, receivedMs)];
    };
  },
};
