// d1. send→recv ping-pong: plain code sends i to one workflow (DBOS.send) and waits for its answer with
// DBOS.getEvent(id, 'pong<i>'); the workflow answers each recv with setEvent. Round trips per second, one at a
// time, no pauses.
import { boundedLoop, now, rateMetric, withTimeout, type Scenario } from '../scenario';
import { RECV_TIMEOUT_S, registerResponder, startLoop } from './common';

const MAX_ROUND_TRIPS = 20_000;
const WARMUP = 20;
const DURATION_MS = 8000;
const TOPIC = 'ping';
const key = (i: number): string => `pong${i}`;

export const pingPong: Scenario = {
  id: 'ping-pong',
  title: 'ping-pong send→recv→setEvent→getEvent',
  timeCapMs: 20_000,
  prepare(sdk) {
    const wf = registerResponder(sdk, 'ping-pong.responder', { topic: TOPIC, eventKey: key });
    return async (ctx) => {
      const loop = await startLoop(sdk, wf, MAX_ROUND_TRIPS + WARMUP + 1, TOPIC);
      let ops = 0;
      let elapsed = 0;
      try {
        const roundTrip = async (i: number): Promise<void> => {
          await sdk.send(loop.id, i, TOPIC);
          const value = await withTimeout(sdk.getEvent<number>(loop.id, key(i), RECV_TIMEOUT_S), 35_000, `pong ${i}`);
          if (value !== i) throw new Error(`pong ${i}: got ${String(value)}`);
        };
        ctx.countOps(await boundedLoop(WARMUP, ctx.deadline, roundTrip));
        const t0 = now();
        ops = await boundedLoop(MAX_ROUND_TRIPS, Math.min(ctx.deadline, t0 + DURATION_MS), (i) => roundTrip(WARMUP + i));
        elapsed = now() - t0;
        ctx.countOps(ops);
      } finally {
        await loop.stop();
      }
      return [rateMetric('round trips', ops, elapsed)];
    };
  },
};
