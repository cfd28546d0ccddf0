// Which TCP port the embedded server listens on: the one asked for (option or DBOS_EMBEDDED_PG_PORT), else the
// remembered one, else at first initialisation the first free port from 5433 up; and the error a clash gives.

import * as net from 'node:net';

export const DEFAULT_EMBEDDED_PG_PORT = 5433;
const PORT_SCAN_END = 5499;

/** The port the caller asked for, if any (the option wins over the environment). */
export function requestedPort(optPort: number | undefined): number | undefined {
  if (optPort !== undefined) return validPort(optPort, 'the `port` option');
  const env = process.env['DBOS_EMBEDDED_PG_PORT'];
  if (env !== undefined && env.trim() !== '') return validPort(Number(env.trim()), 'DBOS_EMBEDDED_PG_PORT', env);
  return undefined;
}

function validPort(port: number, source: string, raw: unknown = port): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Invalid embedded Postgres port from ${source}: ${JSON.stringify(raw)} (expected an integer from 1 to 65535)`);
  }
  return port;
}

export function portInUseError(port: number, dataDir: string): Error {
  return new Error(
    `Cannot start the embedded Postgres server (data in ${dataDir}): port ${port} on 127.0.0.1 is already in use by another program. ` +
      `Choose another port with the \`port\` option or the DBOS_EMBEDDED_PG_PORT environment variable, stop the program using port ${port}, ` +
      `or use your own Postgres by setting DBOS_SYSTEM_DATABASE_URL.`,
  );
}

function canListen(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

export async function assertPortFree(port: number, dataDir: string): Promise<void> {
  const err = await canListen(port);
  if (!err) return;
  if (err.code === 'EADDRINUSE') throw portInUseError(port, dataDir);
  throw new Error(`Cannot use port ${port} for the embedded Postgres server: ${err.message}. Set another port with DBOS_EMBEDDED_PG_PORT.`);
}

export async function pickInitialPort(): Promise<number> {
  for (let port = DEFAULT_EMBEDDED_PG_PORT; port <= PORT_SCAN_END; port++) {
    if (!(await canListen(port))) return port;
  }
  return DEFAULT_EMBEDDED_PG_PORT; // all taken: the start will report the clash clearly
}
