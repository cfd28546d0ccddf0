// The shop: `npm start` serves it on http://localhost:3000 (PORT to change) with nothing configured (an embedded
// Postgres under ./.dbos; DBOS_SYSTEM_DATABASE_URL for your own). Plain node:http, no framework:
//   GET  /                            the shop page (public/): a product, Checkout, the orders, live progress
//   POST /checkout                    starts the checkout workflow, 303 to the payment URL it publishes
//   GET  /checkout/cancel             where checkout lands when no payment URL came in time
//   GET  /pay/:workflowID             a stand-in payment provider: Pay or Decline
//   POST /webhook/payment             {"workflowID", "status": "paid" | "declined"}: forwarded to the workflow
//   GET  /orders                      the orders (DBOS.listWorkflows) as JSON
//   GET  /orders/:workflowID/progress the order's progress stream as Server-Sent Events (dbos-native/sse)
// Kill it mid-order and start it again: launch recovers the order where it was, and the page reconnects.
// SHOP_PAYMENT_TIMEOUT_S (default 120) and SHOP_STAGE_DELAY_MS (default 2000) set the payment wait and how long
// packing and shipping take.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import * as path from 'node:path';
import { DBOS, Error as DBOSErrors } from 'dbos-native';
import { serveStream } from 'dbos-native/sse';
import { PAYMENT_STATUS, PAYMENT_URL, PROGRESS, Shop, type PaymentStatus } from './checkout';

const ITEM = 'DBOS mug';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${raw}: expected a non-negative number`);
  return n;
}

const port = envNumber('PORT', 3000);
const paymentTimeoutS = envNumber('SHOP_PAYMENT_TIMEOUT_S', 120);
const stageDelayMs = envNumber('SHOP_STAGE_DELAY_MS', 2000);

// Compiled to examples/build/shop/: the page's files stay in examples/shop/public/.
const publicDir = path.join(__dirname, '..', '..', 'shop', 'public');
const files: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/shop.js': { file: 'shop.js', type: 'text/javascript; charset=utf-8' },
  '/shop.css': { file: 'shop.css', type: 'text/css; charset=utf-8' },
};

function sendFile(res: ServerResponse, file: string, type: string): void {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(readFileSync(path.join(publicDir, file)));
}

function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location }).end();
}

async function readBody(req: IncomingMessage, limit = 10_000): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > limit) throw new Error('body too large');
  }
  return body;
}

/** The docs' webCheckout: start the workflow, wait for the payment URL it publishes, send the customer there. */
async function webCheckout(res: ServerResponse): Promise<void> {
  const handle = await DBOS.startWorkflow(Shop).checkoutWorkflow({ item: ITEM, paymentTimeoutS, stageDelayMs });
  const url = await DBOS.getEvent<string>(handle.workflowID, PAYMENT_URL, 10);
  redirect(res, url ?? '/checkout/cancel');
}

/** The docs' paymentWebhook: forward the provider's notification to the waiting workflow. */
async function paymentWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let note: { workflowID?: unknown; status?: unknown };
  try {
    note = JSON.parse(await readBody(req)) as typeof note;
  } catch {
    return sendJSON(res, 400, { error: 'expected a JSON body' });
  }
  const { workflowID, status } = note ?? {};
  if (typeof workflowID !== 'string' || workflowID === '' || (status !== 'paid' && status !== 'declined')) {
    return sendJSON(res, 400, { error: 'expected {"workflowID": "...", "status": "paid" | "declined"}' });
  }
  try {
    // One notification per order: a second click (or a provider's retry) is not delivered again.
    await DBOS.send<PaymentStatus>(workflowID, status, PAYMENT_STATUS, `payment-notification`);
  } catch (e) {
    if (e instanceof DBOSErrors.DBOSNonExistentWorkflowError) return sendJSON(res, 404, { error: `no order ${workflowID}` });
    throw e;
  }
  sendJSON(res, 200, { ok: true });
}

async function listOrders(res: ServerResponse): Promise<void> {
  const orders = await DBOS.listWorkflows({ workflowName: 'checkoutWorkflow', sortDesc: true, limit: 50 });
  sendJSON(
    res,
    200,
    orders.map((o) => ({ workflowID: o.workflowID, status: o.status, createdAt: o.createdAt, output: o.output ?? null })),
  );
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const file = files[url.pathname];
  if (method === 'GET' && file) return sendFile(res, file.file, file.type);
  if (method === 'POST' && url.pathname === '/checkout') return webCheckout(res);
  if (method === 'GET' && url.pathname === '/checkout/cancel') {
    return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<p>Checkout cancelled: no payment link came in time. <a href="/">Back to the shop</a></p>');
  }
  if (method === 'GET' && parts.length === 2 && parts[0] === 'pay' && parts[1]) return sendFile(res, 'pay.html', 'text/html; charset=utf-8');
  if (method === 'POST' && url.pathname === '/webhook/payment') return paymentWebhook(req, res);
  if (method === 'GET' && url.pathname === '/orders') return listOrders(res);
  if (method === 'GET' && parts.length === 3 && parts[0] === 'orders' && parts[1] && parts[2] === 'progress') {
    // retryMs: after a restart the page is back within a second. lastEventId: where a page that reopened its
    // EventSource (a new one sends no Last-Event-ID header) had got to.
    await serveStream(req, res, parts[1], PROGRESS, { retryMs: 1000, lastEventId: url.searchParams.get('lastEventId') });
    return;
  }
  sendJSON(res, 404, { error: 'not found' });
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'dbos-native-shop' });
  await DBOS.launch(); // recovers the orders a killed server left mid-way
  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const malformedURL = e instanceof URIError;
      if (!malformedURL) console.error(e);
      if (!res.headersSent) sendJSON(res, malformedURL ? 400 : 500, { error: (e as Error).message });
      else res.end();
    });
  });
  server.on('error', (e) => {
    console.error(`The shop could not listen on port ${port}: ${e.message}`);
    process.exit(1);
  });
  server.listen(port, () => console.log(`The shop is open at http://localhost:${port} (Ctrl-C to stop)`));
  const stop = () => {
    server.closeAllConnections(); // the open progress streams
    server.close();
    DBOS.shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
