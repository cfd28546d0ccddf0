// DBOSClient.sendInTransaction: the message is written in the caller's own transaction, so the receiver
// gets it only once that commits, never after a rollback; a missing destination rejects with the SDK's
// error and aborts the caller's transaction (nothing written).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { DBOS, DBOSClient, Error as DBOSErrors } from 'dbos-native';
import { query } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

class Inbox {
  @DBOS.workflow()
  static async receive(topic: string): Promise<unknown> {
    return DBOS.recv(topic, 30);
  }
}

const db = launchedDatabase('send_in_transaction_test', { name: 'sendtx-app' });

async function inTransaction<T>(fn: (pg: Client) => Promise<T>, end: 'COMMIT' | 'ROLLBACK'): Promise<T> {
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    await pg.query('BEGIN');
    const r = await fn(pg);
    await pg.query(end);
    return r;
  } finally {
    await pg.end();
  }
}

const stored = async (id: string): Promise<number> =>
  Number((await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM dbos.notifications WHERE destination_uuid = $1', [id]))[0].n);

test('delivered at the caller’s commit, with its type; nothing after a rollback', async () => {
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url });
  try {
    const handle = await DBOS.startWorkflow(Inbox).receive('t');
    await inTransaction(async (pg) => {
      await client.sendInTransaction(pg, handle.workflowID, { at: new Date(5) }, 't', 'key-1');
      assert.equal(await stored(handle.workflowID), 0, 'not visible before the commit');
    }, 'ROLLBACK');
    assert.equal(await stored(handle.workflowID), 0, 'nothing after a rollback');
    await inTransaction((pg) => client.sendInTransaction(pg, handle.workflowID, { at: new Date(5) }, 't', 'key-1'), 'COMMIT');
    const got = (await handle.getResult()) as { at: Date };
    assert.ok(got.at instanceof Date && got.at.getTime() === 5);
  } finally {
    await client.destroy();
  }
});

test('a missing destination rejects with DBOSNonExistentWorkflowError and writes nothing', async () => {
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url });
  try {
    await inTransaction(async (pg) => {
      const p = client.sendInTransaction(pg, 'no-such-workflow', 'x');
      await assert.rejects(p, (e: unknown) => e instanceof DBOSErrors.DBOSNonExistentWorkflowError && /Sent to non-existent destination workflow UUID: no-such-workflow/.test(e.message));
    }, 'ROLLBACK');
    assert.equal(await stored('no-such-workflow'), 0);
    // Bad input is a rejected promise, not a synchronous throw.
    await inTransaction(async (pg) => {
      let p: Promise<void> | undefined;
      assert.doesNotThrow(() => {
        p = client.sendInTransaction(pg, 42 as unknown as string, 'x');
      });
      await assert.rejects(p as Promise<void>);
    }, 'ROLLBACK');
  } finally {
    await client.destroy();
  }
});
