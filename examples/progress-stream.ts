// Streaming a workflow's progress to a browser with Server-Sent Events. `node examples/build/progress-stream.js`
// serves http://localhost:8080: GET /start starts a report workflow and returns its ID, GET /events?id=<ID>
// streams its progress (a browser's EventSource reconnects with Last-Event-ID and resumes where it was).
// With `--once` it starts one workflow, reads its events over HTTP itself, prints them and exits.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DBOS } from 'dbos-native';
import { serveStream } from 'dbos-native/sse';

interface Progress {
  part: number;
  of: number;
  at: Date;
}

class Report {
  @DBOS.step()
  static async renderPart(part: number): Promise<string> {
    await new Promise((r) => setTimeout(r, 100)); // the slow work
    return `part ${part}`;
  }

  @DBOS.workflow()
  static async build(parts: number): Promise<string> {
    const done: string[] = [];
    for (let part = 1; part <= parts; part++) {
      done.push(await Report.renderPart(part));
      await DBOS.writeStream<Progress>('progress', { part, of: parts, at: new Date() }); // exactly once
    }
    await DBOS.closeStream('progress');
    return done.join(', ');
  }
}

function serve(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/start') {
      void DBOS.startWorkflow(Report)
        .build(Number(url.searchParams.get('parts') ?? 5))
        .then((h) => res.end(h.workflowID), (e: Error) => res.writeHead(500).end(e.message));
      return;
    }
    if (url.pathname !== '/events') return void res.writeHead(404).end();
    // One event per stream value; a reconnecting EventSource resumes after the Last-Event-ID it sends.
    // It rejects only on bad arguments (here: no id), before writing anything.
    serveStream(req, res, url.searchParams.get('id') ?? '', 'progress').catch((e: Error) => res.writeHead(400).end(e.message));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'progress-stream' });
  await DBOS.launch();
  const once = process.argv.includes('--once');
  const server = await serve(once ? 0 : Number(process.env.PORT ?? 8080));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (!once) {
    console.log(`Start a report: curl ${base}/start ; then follow it: curl -N '${base}/events?id=<ID>'`);
    return;
  }
  const id = await (await fetch(`${base}/start?parts=3`)).text();
  const body = await (await fetch(`${base}/events?id=${encodeURIComponent(id)}`)).text();
  for (const event of body.trim().split('\n\n')) console.log(event.replace(/\n/g, ' | '));
  console.log(`result: ${await DBOS.retrieveWorkflow<string>(id).getResult()}`);
  server.close();
  await DBOS.shutdown();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
