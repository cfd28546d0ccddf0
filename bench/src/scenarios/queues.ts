// Queues (issue 14): workflows started with `startWorkflow(fn, { queueName })` on a queue registered after
// launch. Enqueue→start latency one at a time, and the throughput of a batch on a queue with workerConcurrency 32;
// and workflows enqueued by 32 concurrent `DBOSClient.enqueue` callers, counted when they complete.
// The official SDK finds queued work by polling each queue (every 1 s by default); dbos-native is also woken by
// the enqueue itself.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { QW_GLOBAL_CONCURRENCY, QW_VERSION, QW_WORKFLOW } from '../queue-worker';
import type { BenchSdk, Workflow } from '../sdk';
import { Mailbox, boundedLoop, concurrentLoop, latencyMetrics, now, rateMetric, sleep, withTimeout, type Scenario } from '../scenario';
import { registerTenStep } from './ten-step';

const WORKER_CONCURRENCY = 32;
/** Samples after a warm-up; before each a random pause of up to maxPauseMs (a random phase against a 1 s poll). */
const LATENCY = { samples: 50, warmup: 3, maxPauseMs: 1000 };

export const queueLatency: Scenario = {
  id: 'queue-latency',
  title: 'queued workflow enqueue→start latency',
  note:
    `${LATENCY.warmup} warm-up + ${LATENCY.samples} samples one at a time, each after a random pause of 0–${LATENCY.maxPauseMs} ms (so an ` +
    'enqueue lands at a random point of the official SDK\'s 1 s queue poll; back to back it would always wait ~1 s); ' +
    'few samples so that the SDK stays under ~60 s. Time from just before startWorkflow({queueName}) to the first line of the body',
  timeCapMs: 70_000,
  prepare(sdk) {
    const starts = new Mailbox<number>();
    const wf = sdk.registerWorkflow('queue-latency.started', async (i: number): Promise<number> => {
      starts.put(i, now());
      return i;
    });
    return async (ctx) => {
      const queue = 'queue-latency';
      await sdk.registerQueue(queue);
      const results: Promise<number>[] = [];
      const latencies: number[] = [];
      const n = await boundedLoop(LATENCY.warmup + LATENCY.samples, ctx.deadline, async (i) => {
        await sleep(Math.random() * LATENCY.maxPauseMs);
        const t0 = now();
        const handle = await sdk.enqueue(wf, queue, i);
        const started = await starts.take(i, 10_000, `queued workflow ${i} to start`);
        if (i >= LATENCY.warmup) latencies.push(started - t0);
        const result = handle.getResult();
        result.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
        results.push(result);
      });
      await withTimeout(Promise.all(results), 30_000, 'queued workflows to finish');
      ctx.countOps(n);
      ctx.recordSamples('latencyMs', latencies);
      return latencyMetrics(latencies);
    };
  },
};

interface BatchOptions {
  id: string;
  title: string;
  count: number;
  register(sdk: BenchSdk): Workflow<[], unknown>;
}

/** Enqueues `count` runs at once on a queue with workerConcurrency 32; the time until every result is in. */
function queueBatch(opts: BatchOptions): Scenario {
  const { id, count } = opts;
  return {
    id,
    title: opts.title,
    note: `${count} workflows enqueued at once (no warm-up); the official SDK's poll claims up to ${WORKER_CONCURRENCY} a second`,
    timeCapMs: 90_000,
    prepare(sdk) {
      const wf = opts.register(sdk);
      return async (ctx) => {
        await sdk.registerQueue(id, WORKER_CONCURRENCY);
        const t0 = now();
        const handles = await Promise.all(Array.from({ length: count }, () => sdk.enqueue(wf, id)));
        const remaining = Math.max(1, ctx.deadline - now());
        await withTimeout(Promise.all(handles.map((h) => h.getResult())), remaining, `${count} queued workflows to finish`);
        const elapsed = now() - t0;
        ctx.countOps(count);
        return [rateMetric('throughput', count, elapsed)];
      };
    },
  };
}

export const queueEmptyC32 = queueBatch({
  id: 'queue-empty-c32',
  title: 'empty queued workflows, workerConcurrency 32',
  count: 2000,
  register: (sdk) => sdk.registerWorkflow('queue-empty-c32.empty', async (): Promise<number> => 0),
});

export const queueTenStepC32 = queueBatch({
  id: 'queue-ten-step-c32',
  title: '10-step queued workflows, workerConcurrency 32',
  count: 640,
  register: (sdk) => registerTenStep(sdk, 'queue-ten-step-c32'),
});

const CLIENT_CALLERS = 32;
const CLIENT_ENQUEUE = { durationMs: 5000, max: 20_000, warmup: 2 * CLIENT_CALLERS };

/**
 * DBOSClient.enqueue from 32 concurrent callers for 5 s onto a queue without limits, served by this process;
 * throughput is the workflows completed (their bodies ran) per second, from the first enqueue to the last
 * completion, so the time a workflow waits to be dispatched counts and a queue that only fills does not.
 */
export const clientEnqueueC32: Scenario = {
  id: 'client-enqueue-c32',
  title: `DBOSClient.enqueue, ${CLIENT_CALLERS} concurrent callers: workflows completed`,
  note:
    `${CLIENT_ENQUEUE.warmup} warm-up, then ${CLIENT_CALLERS} callers enqueue for ${CLIENT_ENQUEUE.durationMs / 1000} s (at most ${CLIENT_ENQUEUE.max}) onto a queue ` +
    'without limits (the official SDK\'s poll then claims all it finds each second); counted when each body has run',
  timeCapMs: CLIENT_ENQUEUE.durationMs + 60_000,
  prepare(sdk) {
    const done = new Mailbox<number>();
    const wf = sdk.registerWorkflow('client-enqueue-c32.empty', async (i: number): Promise<void> => {
      done.put(i, now());
    });
    return async (ctx) => {
      const queue = 'client-enqueue-c32';
      await sdk.registerQueue(queue);
      const client = await sdk.createClient();
      const enqueue = (i: number) => client.enqueue({ workflowName: wf.name, queueName: queue }, i).then(() => undefined);
      /** Waits for the bodies of runs [from, to) and returns when the last of them completed. */
      const completed = async (from: number, to: number): Promise<number> => {
        let last = 0;
        for (let i = from; i < to; i++) last = Math.max(last, await done.take(i, Math.max(1, ctx.deadline - now()), `enqueued workflow ${i} to run`));
        return last;
      };
      try {
        const { warmup } = CLIENT_ENQUEUE;
        await concurrentLoop(CLIENT_CALLERS, warmup, ctx.deadline, enqueue);
        await completed(0, warmup);
        const t0 = now();
        const n = await concurrentLoop(CLIENT_CALLERS, CLIENT_ENQUEUE.max, Math.min(ctx.deadline, t0 + CLIENT_ENQUEUE.durationMs), (i) => enqueue(warmup + i));
        const elapsed = (await completed(warmup, warmup + n)) - t0;
        ctx.countOps(warmup + n);
        return [rateMetric('throughput', n, elapsed)];
      } finally {
        await client.destroy();
      }
    };
  },
};

const PROCS = { workers: 4, samples: 100, warmup: 5, everyMs: 100 };

/** Starts worker `k` of the SDK under test (bench/build/queue-worker.js); `starts` gets each run's start time. */
function startWorker(sdk: BenchSdk, k: number, queue: string, starts: Mailbox<number>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'queue-worker.js')], {
    env: { ...process.env, BENCH_QW_SDK: sdk.id, BENCH_QW_DB_URL: sdk.systemDatabaseUrl, BENCH_QW_EXECUTOR: `qw-${k}`, BENCH_QW_QUEUE: k === 0 ? queue : '' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`queue worker ${k} exited with ${code}`)));
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const [what, i, at] = line.split(' ');
      if (what === 'ready') resolve();
      else if (what === 'start') starts.put(Number(i), Number(at));
    });
  });
  ready.catch(() => undefined); // awaited by the scenario; a later exit is not an unhandled rejection
  return { child, ready };
}

/**
 * Enqueue→start latency with 4 worker processes on one queue with globalConcurrency 4: the claims of several
 * processes meet on one queue (the official SDK's fail each other's NOWAIT row locks and back off). The enqueues
 * come from this process's DBOSClient, a steady stream; the workers are separate processes of the same SDK.
 */
export const queueLatency4Proc: Scenario = {
  id: 'queue-latency-4proc',
  title: `queued workflow enqueue→start latency, ${PROCS.workers} worker processes, globalConcurrency ${QW_GLOBAL_CONCURRENCY}`,
  note:
    `${PROCS.workers} worker processes of the SDK (spawned by the bench child) serve one queue with globalConcurrency ${QW_GLOBAL_CONCURRENCY}; ` +
    `DBOSClient.enqueue from the bench child every ${PROCS.everyMs} ms, ${PROCS.warmup} warm-up + ${PROCS.samples} samples; ` +
    'time from just before the enqueue to the first line of the body in a worker (Date.now(), one host)',
  timeCapMs: 150_000,
  prepare(sdk) {
    return async (ctx) => {
      const queue = 'queue-latency-4proc';
      const starts = new Mailbox<number>();
      const workers: ChildProcess[] = [];
      const client = await sdk.createClient();
      try {
        // The first registers the queue; the others start once it has, so none launches on a missing schema.
        const first = startWorker(sdk, 0, queue, starts);
        workers.push(first.child);
        await withTimeout(first.ready, 60_000, 'the first queue worker to launch');
        const rest = Array.from({ length: PROCS.workers - 1 }, (_, k) => startWorker(sdk, k + 1, queue, starts));
        workers.push(...rest.map((w) => w.child));
        await withTimeout(Promise.all(rest.map((w) => w.ready)), 60_000, 'the queue workers to launch');
        await sleep(1500); // the official SDK's workers find a new queue within a second

        const total = PROCS.warmup + PROCS.samples;
        const enqueuedAt: number[] = [];
        const t0 = now();
        const n = await boundedLoop(total, ctx.deadline, async (i) => {
          const wait = t0 + i * PROCS.everyMs - now();
          if (wait > 0) await sleep(wait);
          enqueuedAt[i] = Date.now();
          await client.enqueue({ workflowName: QW_WORKFLOW, queueName: queue, appVersion: QW_VERSION }, i);
        });
        const latencies: number[] = [];
        for (let i = 0; i < n; i++) {
          const started = await starts.take(i, Math.max(1, ctx.deadline - now()), `queued workflow ${i} to start`);
          if (i >= PROCS.warmup) latencies.push(started - (enqueuedAt[i] ?? started));
        }
        ctx.countOps(n);
        ctx.recordSamples('latencyMs', latencies);
        return latencyMetrics(latencies);
      } finally {
        for (const w of workers) w.stdin?.end(); // a worker exits when its stdin closes
        await client.destroy();
      }
    };
  },
};
