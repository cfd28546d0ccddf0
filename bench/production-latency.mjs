#!/usr/bin/env node
// Latency of the waits in each production connection mode, from one run (README, "Production Postgres"):
//   send→recv       a DBOSClient sends to a workflow waiting in recv: from the send's call to recv's return
//   enqueue→start   a DBOSClient enqueues: from the enqueue's call to the workflow's first line
// in four modes: direct (LISTEN/NOTIFY), polling (useListenNotify: false), and through a PgBouncer in
// transaction mode (pool_mode = transaction, 3 server connections) with LISTEN on the direct URL, and without
// one (polling). Each mode runs in a child process (one DBOS.launch per process), 30 sequential samples each.
//
// Usage: npm run build && npx tsc -p __test__/tsconfig.json && \
//        DBOS_SYSTEM_DATABASE_URL=postgres://user:pw@host:port/postgres node bench/production-latency.mjs
// (the PgBouncer comes from __test__/helpers/pgbouncer.ts, compiled by the second command; apt-get install pgbouncer)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repo, 'package.json'));
const SAMPLES = 30;
const MODES = ['direct', 'polling', 'pgbouncer+listen', 'pgbouncer-polling'];

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms`;
}

async function child(mode) {
  const { DBOS, DBOSClient } = require('dbos-native');
  const { Client } = require('pg');
  const server = new URL(process.env.DBOS_SYSTEM_DATABASE_URL);
  const direct = new URL(server);
  direct.pathname = `/bench_prod_${mode.replace(/[^a-z]/g, '_')}`;
  const admin = new Client({ connectionString: server.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${direct.pathname.slice(1)}" WITH (FORCE)`);
  await admin.end();
  let bouncer;
  let modes = {};
  let url = direct.toString();
  if (mode === 'polling') modes = { useListenNotify: false };
  if (mode.startsWith('pgbouncer')) {
    const { startPgBouncer } = require(path.join(repo, '__test__/build/__test__/helpers/pgbouncer.js'));
    bouncer = await startPgBouncer(direct.toString(), 3);
    url = bouncer.pooled(direct.toString());
    modes = mode === 'pgbouncer+listen' ? { systemDatabaseListenUrl: direct.toString() } : { systemDatabaseTransactionPooling: true };
  }
  const received = new Map();
  const started = new Map();
  const receiver = DBOS.registerWorkflow(async () => {
    await DBOS.recv('t', 60);
    received.set(DBOS.workflowID, performance.now());
  }, { name: 'receiver' });
  DBOS.registerWorkflow(async () => {
    started.set(DBOS.workflowID, performance.now());
  }, { name: 'queued' });
  DBOS.setConfig({ name: 'prod-latency', systemDatabaseUrl: url, ...modes });
  await DBOS.launch();
  await DBOS.registerQueue('bench-q');
  const client = await DBOSClient.create({ systemDatabaseUrl: url, ...modes });
  const sendRecv = [];
  const enqueueStart = [];
  for (let i = 0; i < SAMPLES; i++) {
    const h = await DBOS.startWorkflow(receiver)();
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 250)); // recv is waiting, at a random point of its poll
    const t0 = performance.now();
    await client.send(h.workflowID, 'x', 't');
    await h.getResult();
    sendRecv.push(received.get(h.workflowID) - t0);
  }
  for (let i = 0; i < SAMPLES; i++) {
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
    const t0 = performance.now();
    const h = await client.enqueue({ queueName: 'bench-q', workflowName: 'queued' });
    await h.getResult();
    enqueueStart.push(started.get(h.workflowID) - t0);
  }
  await client.destroy();
  await DBOS.shutdown();
  await bouncer?.stop();
  console.log(`${mode.padEnd(18)} send→recv ${stats(sendRecv)} | enqueue→start ${stats(enqueueStart)}`);
}

if (process.argv[2]) {
  await child(process.argv[2]);
  process.exit(0);
} else {
  if (!process.env.DBOS_SYSTEM_DATABASE_URL) {
    console.error('set DBOS_SYSTEM_DATABASE_URL to a Postgres server (its databases bench_prod_* are dropped and created)');
    process.exit(2);
  }
  for (const mode of MODES) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
}
