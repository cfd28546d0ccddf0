// The official SDK's client, for test files that enqueue through it what ours cannot.
import { after } from 'node:test';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';

/**
 * The official SDK's client on `db`: made at first use (the database exists once DBOS launched, after
 * the file's `before` hooks), destroyed after the file's tests.
 */
export function lazyOfficialClient(db: { readonly url: string }): () => Promise<OfficialClient> {
  let client: OfficialClient | undefined;
  after(async () => {
    await client?.destroy();
  });
  return async () => (client ??= await OfficialClient.create({ systemDatabaseUrl: db.url }));
}
