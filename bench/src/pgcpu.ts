// CPU time the Postgres server spent, read from /proc when the server runs on this machine (the embedded one
// always does): the postmaster's own and reaped children's time plus every live child's. Unlike throughput, CPU
// time per operation barely moves when other work shares the machine, so it shows what a change saves.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';

const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime, stime, cutime, cstime of a process, in clock ticks (fields 14-17 of /proc/<pid>/stat). */
function times(pid: number): { self: number; children: number; ppid: number } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  // The command name may hold spaces: fields start after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

export class ServerCpu {
  private constructor(private readonly postmaster: number) {}

  /** Undefined when the server is not on this machine (no readable postmaster.pid under its data directory). */
  static async find(admin: Client): Promise<ServerCpu | undefined> {
    try {
      const dir = (await admin.query<{ d: string }>('SELECT current_setting($1) AS d', ['data_directory'])).rows[0].d;
      const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && times(pid) ? new ServerCpu(pid) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The server's CPU time so far, ms. */
  ms(): number {
    const root = times(this.postmaster);
    if (!root) return 0;
    let ticks = root.self + root.children;
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const t = times(Number(entry));
      if (t && t.ppid === this.postmaster) ticks += t.self;
    }
    return (ticks * 1000) / TICKS_PER_S;
  }
}
