// TLS to the system database (issue 16): a Postgres of the test's own with ssl=on and a pg_hba.conf of hostssl
// lines only, a CA and a server certificate for `localhost` made with the openssl CLI. The sslmode matrix (libpq's
// semantics), a client certificate, bad settings, and DBOS.launch, DBOSClient and the LISTEN connection over TLS.
// No error message or log line names the password or a certificate or key path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DBOS, DBOSClient } from 'dbos-native';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../ts/embedded-postgres';
import { ensurePostgresUser, isRoot } from '../ts/embedded/root';
import { databaseUrl, query } from './helpers/db';
import { freePort } from './helpers/net';

// The built package's modules, so that errors are of the classes `dbos-native` exports.
const repo = path.resolve(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { connectEngine } = require(path.join(repo, 'dist', 'native.js')) as typeof import('../ts/native');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const E = require(path.join(repo, 'dist', 'error.js')) as typeof import('../ts/error');
const { DBOSConnectionError, DBOSError, DBOSInitializationError } = E;

let server: EmbeddedPostgresHandle | undefined;
let dir = '';
let certs = '';
let password = '';
let port = 0;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: certs, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A P-256 key and a certificate for `cn` signed by `ca` (self-signed when `ca` is undefined). */
function makeCert(name: string, cn: string, ca: string | undefined, ext: string): void {
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`];
  if (!ca) {
    openssl('req', '-x509', ...key, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`);
    return;
  }
  fs.writeFileSync(path.join(certs, `${name}.ext`), ext);
  openssl('req', '-new', ...key, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
}

const file = (name: string): string => path.join(certs, name);

/** The server's URL for `user` on `host`, database `tls_test`, with these query parameters. */
function url(params: Record<string, string>, host = 'localhost', user = 'postgres', database = 'tls_test'): string {
  const u = new URL(`postgresql://${host}:${port}/${database}`);
  u.username = user;
  if (user === 'postgres') u.password = password;
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Connects as DBOS.launch does (creating and migrating the database), then closes. */
async function probe(target: string): Promise<void> {
  const engine = await connectEngine({
    url: target,
    schema: 'dbos',
    poolSize: 2,
    schemaMode: 'migrate',
    listen: false,
    listenNotify: true,
    listenUrl: null,
    transactionPooling: false,
    appName: 'tls-test',
    executorId: 'tls-probe',
    appVersion: 'v1',
  });
  engine.close();
}

/** The rejection of `p` (it must reject, never throw synchronously), checked to leak no secret. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  const error = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof Error);
  assertNoSecret(`${error.message}\n${error.stack ?? ''}`);
  return error;
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(password), 'the password leaked');
  assert.ok(!text.includes(certs), `a certificate or key path leaked: ${text}`);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbosn-tls-'));
  fs.chmodSync(dir, 0o755); // as root the server runs as "postgres"
  certs = path.join(dir, 'certs');
  fs.mkdirSync(certs);
  makeCert('ca', 'dbosn test CA', undefined, '');
  makeCert('wrong-ca', 'dbosn other CA', undefined, '');
  makeCert('server', 'localhost', 'ca', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  makeCert('client', 'certuser', 'ca', 'extendedKeyUsage=clientAuth\n');
  fs.writeFileSync(
    file('pg_hba.conf'),
    [
      'hostssl all certuser 127.0.0.1/32 trust clientcert=verify-full',
      'hostssl all certuser ::1/128 trust clientcert=verify-full',
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostssl all all ::1/128 scram-sha-256',
      '',
    ].join('\n'),
  );
  // The server refuses a key others can read, and must be able to read its files as "postgres" when we are root.
  fs.chmodSync(file('server.key'), 0o600);
  if (isRoot()) {
    const pg = await ensurePostgresUser(() => {});
    fs.chmodSync(certs, 0o755);
    for (const f of ['ca.crt', 'server.crt', 'server.key', 'pg_hba.conf']) fs.chownSync(file(f), pg.uid, pg.gid);
  }
  port = await freePort();
  server = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'pg'),
    port,
    ephemeral: true,
    postgresFlags: [
      '-c', 'listen_addresses=localhost',
      '-c', 'ssl=on',
      '-c', `ssl_cert_file=${file('server.crt')}`,
      '-c', `ssl_key_file=${file('server.key')}`,
      '-c', `ssl_ca_file=${file('ca.crt')}`,
      '-c', `hba_file=${file('pg_hba.conf')}`,
    ],
  });
  password = decodeURIComponent(new URL(server.url).password);
  assert.ok(password.length > 8);
  // node-postgres as the admin: encrypted, unverified.
  const admin = url({ sslmode: 'no-verify' }, 'localhost').replace('/tls_test', '/postgres');
  await query(admin, 'CREATE ROLE certuser LOGIN CREATEDB');
});

after(async () => {
  await DBOS.shutdown();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('verify-full connects with the right CA and host name', async () => {
  await probe(url({ sslmode: 'verify-full', sslrootcert: file('ca.crt') }));
});

test('verify-full fails with a typed error on a wrong CA and on a wrong host name', async () => {
  const wrongCa = await rejection(probe(url({ sslmode: 'verify-full', sslrootcert: file('wrong-ca.crt') })));
  assert.ok(wrongCa instanceof DBOSInitializationError);
  assert.match(wrongCa.message, /TLS handshake: invalid peer certificate: UnknownIssuer/);
  // The certificate names only localhost.
  const wrongHost = await rejection(probe(url({ sslmode: 'verify-full', sslrootcert: file('ca.crt') }, '127.0.0.1')));
  assert.ok(wrongHost instanceof DBOSInitializationError);
  assert.match(wrongHost.message, /TLS handshake: invalid peer certificate: certificate not valid for name/);
});

test('require connects without verifying; with a root certificate it verifies the chain (verify-ca)', async () => {
  await probe(url({ sslmode: 'require' }, '127.0.0.1'));
  await probe(url({ sslmode: 'no-verify' }, '127.0.0.1'));
  await probe(url({ sslmode: 'require', sslrootcert: file('ca.crt') }, '127.0.0.1'));
  await rejection(probe(url({ sslmode: 'require', sslrootcert: file('wrong-ca.crt') }, '127.0.0.1')));
});

test('verify-ca connects with a wrong host name but the right CA, and fails on a wrong CA', async () => {
  await probe(url({ sslmode: 'verify-ca', sslrootcert: file('ca.crt') }, '127.0.0.1'));
  const e = await rejection(probe(url({ sslmode: 'verify-ca', sslrootcert: file('wrong-ca.crt') }, '127.0.0.1')));
  assert.ok(e instanceof DBOSInitializationError);
});

test('prefer (the default) and allow encrypt against a TLS-only server', async () => {
  await probe(url({}));
  await probe(url({ sslmode: 'prefer' }));
  await probe(url({ sslmode: 'allow' }));
});

test('disable against the hostssl-only server fails clearly', async () => {
  const e = await rejection(probe(url({ sslmode: 'disable' })));
  assert.ok(e instanceof DBOSInitializationError);
  assert.match(e.message, /no pg_hba\.conf entry.*no encryption/);
  // node-postgres's ssl=false is the same.
  await rejection(probe(url({ ssl: 'false' })));
});

test('a client certificate (sslcert, sslkey) authenticates a clientcert=verify-full user', async () => {
  const withCert = { sslmode: 'verify-full', sslrootcert: file('ca.crt'), sslcert: file('client.crt'), sslkey: file('client.key') };
  // Its own database: certuser may not create the schema in the one postgres owns.
  await probe(url(withCert, 'localhost', 'certuser', 'tls_cert'));
  const e = await rejection(probe(url({ sslmode: 'verify-full', sslrootcert: file('ca.crt') }, 'localhost', 'certuser', 'tls_cert')));
  assert.ok(e instanceof DBOSInitializationError);
});

test('bad TLS settings reject with a typed error naming the key, never the path', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ sslmode: 'verify-everything' }, /sslmode must be/],
    [{ ssl: 'maybe' }, /ssl must be/],
    [{ sslmode: 'verify-full', sslrootcert: file('missing.crt') }, /cannot read the sslrootcert file/],
    [{ sslmode: 'verify-full', sslrootcert: file('pg_hba.conf') }, /sslrootcert file holds no PEM certificate/],
    [{ sslcert: file('client.crt') }, /sslcert and sslkey must be given together/],
    [{ sslcert: file('client.crt'), sslkey: file('missing.key') }, /cannot read the sslkey file/],
    [{ sslcert: file('client.crt'), sslkey: file('server.key') }, /does not match/],
    [{ sslmode: 'require', sslrootcert: 'system' }, /sslrootcert=system requires sslmode=verify-full/],
  ];
  for (const [params, message] of cases) {
    const e = await rejection(probe(url(params)));
    assert.ok(e instanceof DBOSInitializationError, `${JSON.stringify(params)}: ${String(e)}`);
    assert.match(e.message, message);
  }
  // The client checks its settings at create, before any connection.
  const e = await rejection(DBOSClient.create({ systemDatabaseUrl: url({ sslmode: 'verify-everything' }) }));
  assert.ok(e instanceof DBOSError);
});

test('require against a server without TLS fails at once: launch and a client call', { timeout: 60_000 }, async () => {
  // The shared test server has ssl off.
  const plain = new URL(databaseUrl('tls_plain'));
  plain.searchParams.set('sslmode', 'require');
  const e = await rejection(probe(plain.toString()));
  assert.ok(e instanceof DBOSInitializationError);
  assert.match(e.message, /server does not support TLS/);
  // A client's call is not retried as a passing fault would be (it would hang until the timeout).
  const client = await DBOSClient.create({ systemDatabaseUrl: plain.toString() });
  try {
    const ce = await rejection(client.send('nobody', 'x', 'wake'));
    assert.ok(ce instanceof DBOSConnectionError, String(ce));
  } finally {
    await client.destroy();
  }
});

const waiter = DBOS.registerWorkflow(
  async () => {
    await DBOS.setEvent('ready', true);
    return DBOS.recv<string>('wake', 120);
  },
  { name: 'tls-waiter' },
);

// The timeout: a TLS rejection retried as a passing fault would hang the client's call.
test('DBOS.launch, DBOSClient and the LISTEN connection work over verified TLS; failures log no secret', { timeout: 60_000 }, async () => {
  const good = url({ sslmode: 'verify-full', sslrootcert: file('ca.crt') });
  const bad = url({ sslmode: 'verify-full', sslrootcert: file('wrong-ca.crt') });

  // A launch that cannot verify the server: its error and everything logged meanwhile hold no secret.
  const logged: string[] = [];
  const capture = (write: typeof process.stdout.write) =>
    ((chunk: string | Uint8Array, ...rest: never[]) => {
      logged.push(chunk.toString());
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
  const [out, err] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  try {
    DBOS.setConfig({ name: 'tls-test', systemDatabaseUrl: bad });
    const e = await rejection(DBOS.launch());
    assert.ok(e instanceof DBOSInitializationError);
    // A client over the wrong CA: created lazily, its first call rejects with a connection error.
    const badClient = await DBOSClient.create({ systemDatabaseUrl: bad });
    const ce = await rejection(badClient.send('nobody', 'x', 'wake'));
    assert.ok(ce instanceof DBOSConnectionError, String(ce));
    await badClient.destroy();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  assertNoSecret(logged.join(''));

  DBOS.setConfig({ name: 'tls-test', systemDatabaseUrl: good });
  await DBOS.launch();
  const client = await DBOSClient.create({ systemDatabaseUrl: good });
  try {
    // Every session of this app and of the client is encrypted, the listener's included (the server allows no
    // other, so this also shows the listener connected).
    const admin = url({ sslmode: 'no-verify' }).replace('/tls_test', '/postgres');
    const sessions = () =>
      query<{ application_name: string; ssl: boolean }>(
        admin,
        `SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
          WHERE a.datname = 'tls_test' AND a.application_name LIKE 'dbos_native%'`,
      );
    // The listener connects in the background after launch: wait for its session.
    let seen = await sessions();
    for (let i = 0; i < 100 && !seen.some((s) => s.application_name.startsWith('dbos_native_listener_')); i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await sessions();
    }
    assert.ok(seen.some((s) => s.application_name.startsWith('dbos_native_listener_')), JSON.stringify(seen));
    assert.ok(seen.every((s) => s.ssl), JSON.stringify(seen));

    const handle = await DBOS.startWorkflow(waiter)();
    assert.equal(await client.getEvent(handle.workflowID, 'ready', 60), true);
    // Let the recv reach its wait; a send that came first would be read at once, a weaker (still passing) check.
    await new Promise((r) => setTimeout(r, 300));
    const sent = Date.now();
    await client.send(handle.workflowID, 'hello', 'wake');
    assert.equal(await handle.getResult(), 'hello');
    // Woken by the notification over the TLS listener, not by the recv's 10 s poll.
    assert.ok(Date.now() - sent < 5_000, `recv took ${Date.now() - sent} ms`);
  } finally {
    await client.destroy();
    await DBOS.shutdown();
  }
});
