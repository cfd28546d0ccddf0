// The cross-process lock that serialises initialisation and start-up of one data directory (and concurrent calls
// in this process). It is a file holding the owner's pid, created exclusively; a lock whose owner died (a SIGKILLed
// process) is taken over at once, by pid, rather than after a staleness timeout.

import * as fsp from 'node:fs/promises';
import { isAlive, sleep } from './proc';

const LOCK_TIMEOUT_MS = 90_000;

const heldLocks = new Set<string>();

export async function acquireLock(lockPath: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      await fsp.writeFile(lockPath, String(process.pid), { flag: 'wx' });
      heldLocks.add(lockPath);
      return async () => {
        heldLocks.delete(lockPath);
        await fsp.rm(lockPath, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let stale = false;
    try {
      const [text, st] = await Promise.all([fsp.readFile(lockPath, 'utf8'), fsp.stat(lockPath)]);
      const pid = Number.parseInt(text, 10);
      stale =
        !(pid > 0) ||
        !isAlive(pid) ||
        (pid === process.pid && !heldLocks.has(lockPath)) ||
        Date.now() - st.mtimeMs > LOCK_TIMEOUT_MS;
    } catch {
      continue; // released meanwhile
    }
    if (stale) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lockPath} (another process is starting the embedded Postgres server).`);
    await sleep(50);
  }
}
