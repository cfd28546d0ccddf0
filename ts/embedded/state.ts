// The credentials file, <dataDir>/embedded-postgres.json: the port, user and (random) password chosen at first
// initialisation, private to the owner and replaced atomically, so a crash never leaves a half-written one.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export const STATE_FILE = 'embedded-postgres.json';
export const PG_USER = 'postgres';

export interface State {
  version: 1;
  port: number;
  user: string;
  password: string;
  initialized: boolean;
}

export async function readState(dataDir: string): Promise<State | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dataDir, STATE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const s = JSON.parse(text) as Partial<State>;
  if (typeof s.port !== 'number' || typeof s.user !== 'string' || typeof s.password !== 'string') {
    throw new Error(`${path.join(dataDir, STATE_FILE)} is malformed; delete ${dataDir} to create a new embedded database.`);
  }
  return { version: 1, port: s.port, user: s.user, password: s.password, initialized: s.initialized === true };
}

export async function writeState(dataDir: string, state: State): Promise<void> {
  const file = path.join(dataDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await fsp.rename(tmp, file);
}

export function makeUrl(state: State, port: number): string {
  return `postgresql://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@127.0.0.1:${port}/postgres`;
}
