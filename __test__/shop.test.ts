// The shop (`npm start`, examples/shop/) as a person uses it, in headless Chromium (Debian's `chromium`, or
// CHROMIUM_PATH; without one the test is skipped locally and fails under CI): check out, follow the payment link,
// pay, and watch the progress reach "shipped" on the first page (reloaded mid-way); a declined order; an order
// left to time out; and an order whose server is SIGKILLed mid-way and started again: it finishes, and the open
// page reconnects and shows every stage exactly once. Ends with a screenshot in __test__/build/output/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { killAll, killApp, spawnApp, waitFor, type App } from './helpers/child';
import { databaseUrl, freshDatabase, query } from './helpers/db';
import { freePort } from './helpers/net';

const root = path.join(__dirname, '..', '..', '..');
const database = 'dbosn_shop';
const output = path.join(root, '__test__', 'build', 'output');
/** Where this test builds the shop (inside the project, so that `dbos-native` resolves to it). */
const app = path.join(root, '__test__', 'build', 'shop-app');
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p): p is string => !!p && existsSync(p));
const noBrowser = chromium === undefined && !process.env.CI;

let base = '';
let env: Record<string, string> = {};
let shop: App | undefined;
let browser: Browser | undefined;

async function startShop(): Promise<App> {
  const shopApp = spawnApp(path.join(app, 'build', 'shop', 'server.js'), env, 'shop');
  await waitFor('the shop to listen', () => shopApp.stdout().includes('The shop is open at'), [shopApp], 30_000);
  return shopApp;
}

/** The stages the page shows for the selected order, in order. */
function stages(page: Page): Promise<string[]> {
  return page.$$eval('#progress li', (lis) => lis.map((li) => li.getAttribute('data-stage') ?? ''));
}

async function waitForStage(page: Page, stage: string): Promise<void> {
  await page.waitForSelector(`#progress li[data-stage="${stage}"]`, { timeout: 20_000 });
}

/** Clicks Checkout and waits for the page to select the new order and show its payment link; returns the order's ID. */
async function checkout(page: Page): Promise<string> {
  const before = new URL(page.url()).searchParams.get('order');
  await page.click('#checkout');
  // A string: this project compiles without the DOM's types.
  await page.waitForFunction(`new URLSearchParams(location.search).get('order') !== ${JSON.stringify(before)} && !document.getElementById('payment').hidden`, {
    timeout: 20_000,
  });
  const id = new URL(page.url()).searchParams.get('order');
  assert.ok(id);
  return id;
}

/** Follows the page's payment link (it opens a tab) and clicks Pay or Decline there. */
async function answerPayment(page: Page, button: 'pay' | 'decline'): Promise<void> {
  const opened = browser!.waitForTarget((t) => t.opener() === page.target(), { timeout: 20_000 });
  await page.click('#pay-link');
  const payPage = await (await opened).page();
  assert.ok(payPage);
  await payPage.waitForSelector(`#${button}`);
  await payPage.click(`#${button}`);
  await payPage.waitForSelector(`#pay-result[data-status="${button === 'pay' ? 'paid' : 'declined'}"]`, { timeout: 20_000 });
  await payPage.close();
}

describe('the shop in a real browser', { skip: noBrowser ? 'no Chromium here (apt-get install chromium, or set CHROMIUM_PATH)' : false }, () => {
  before(async () => {
    assert.ok(chromium, 'Chromium is required under CI: .ci/run installs Debian\'s chromium, or set CHROMIUM_PATH');
    rmSync(app, { recursive: true, force: true });
    // Built into a folder of its own: example.test.ts may be rebuilding examples/build meanwhile. The server finds
    // its page at ../../shop/public from its compiled file, so the page goes there too.
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'examples'), '--outDir', path.join(app, 'build')], { encoding: 'utf8' });
    assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
    cpSync(path.join(root, 'examples', 'shop', 'public'), path.join(app, 'shop', 'public'), { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // Test mode: a 3-second payment timeout; packing and shipping take 1.5 s each, time enough to kill the server.
    env = { PORT: String(port), DBOS_SYSTEM_DATABASE_URL: await freshDatabase(database), SHOP_PAYMENT_TIMEOUT_S: '3', SHOP_STAGE_DELAY_MS: '1500' };
    shop = await startShop();
    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  after(async () => {
    await browser?.close();
    await killAll();
    await query(databaseUrl('postgres'), `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  });

  test('check out, pay, decline, time out, reload, and a server killed mid-order', async () => {
    const page = await browser!.newPage();
    await page.setViewport({ width: 1280, height: 520 });
    await page.goto(base);
    assert.match(await page.title(), /shop/);

    // An order left unpaid: it times out while the others go on.
    const unpaid = await checkout(page);

    // Paid, with the page reloaded mid-way: every stage once, in order.
    const paid = await checkout(page);
    assert.notEqual(paid, unpaid);
    await answerPayment(page, 'pay');
    await waitForStage(page, 'paid');
    await page.reload();
    await waitForStage(page, 'shipped');
    assert.deepEqual(await stages(page), ['reserved', 'awaiting_payment', 'paid', 'packed', 'shipped']);
    assert.equal(await page.$eval('#connection', (e) => e.textContent), 'complete');

    // The unpaid one, picked from the orders list.
    await page.click(`#orders li[data-id="${unpaid}"]`);
    await waitForStage(page, 'cancelled');
    assert.deepEqual(await stages(page), ['reserved', 'awaiting_payment', 'timed_out', 'cancelled']);

    const declined = await checkout(page);
    await answerPayment(page, 'decline');
    await waitForStage(page, 'cancelled');
    assert.deepEqual(await stages(page), ['reserved', 'awaiting_payment', 'declined', 'cancelled']);

    // Killed after payment, before shipping: started again on the same database and port, the order finishes
    // and the open page (its EventSource reconnecting with Last-Event-ID) shows the rest, no stage twice.
    const killed = await checkout(page);
    await answerPayment(page, 'pay');
    await waitForStage(page, 'paid');
    await killApp(shop!);
    assert.ok(!(await stages(page)).includes('shipped'), 'the server was killed before the order shipped');
    shop = await startShop();
    await waitForStage(page, 'shipped');
    assert.deepEqual(await stages(page), ['reserved', 'awaiting_payment', 'paid', 'packed', 'shipped']);
    const [row] = await query<{ recovery_attempts: string }>(env.DBOS_SYSTEM_DATABASE_URL!, 'SELECT recovery_attempts FROM dbos.workflow_status WHERE workflow_uuid = $1', [killed]);
    assert.ok(Number(row?.recovery_attempts) >= 2, 'the restarted server recovered the order');

    const orders = (await (await fetch(`${base}/orders`)).json()) as { workflowID: string; status: string; output: string }[];
    const byID = new Map(orders.map((o) => [o.workflowID, o]));
    assert.match(byID.get(paid)?.output ?? '', /^shipped \(TRK-\d{8}\)$/);
    assert.match(byID.get(killed)?.output ?? '', /^shipped/);
    assert.equal(byID.get(unpaid)?.output, 'cancelled (no payment in time)');
    assert.equal(byID.get(declined)?.output, 'cancelled (payment declined)');
    await page.waitForSelector(`#orders li[data-id="${killed}"][data-status="SUCCESS"]`, { timeout: 10_000 });

    mkdirSync(output, { recursive: true });
    const shot = path.join(output, 'shop.png');
    await page.screenshot({ path: shot as `${string}.png` });
    console.log(`screenshot: ${shot}`);
  });

  test('the webhook and the checkout redirect, over plain HTTP', async () => {
    const res = await fetch(`${base}/checkout`, { method: 'POST', redirect: 'manual' });
    assert.equal(res.status, 303);
    const location = res.headers.get('location') ?? '';
    assert.match(location, /^\/pay\/[0-9a-f-]{36}$/);
    const workflowID = location.slice('/pay/'.length);
    const post = (body: unknown) => fetch(`${base}/webhook/payment`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal((await post({ workflowID, status: 'refunded' })).status, 400);
    assert.equal((await post({ workflowID: 'no-such-order', status: 'paid' })).status, 404);
    assert.equal((await post({ workflowID, status: 'declined' })).status, 200);
    assert.equal((await post({ workflowID, status: 'paid' })).status, 200);
    // The webhook's idempotency key: one notification per order, whatever the provider sends after it.
    const messages = await query(env.DBOS_SYSTEM_DATABASE_URL!, 'SELECT message FROM dbos.notifications WHERE destination_uuid = $1', [workflowID]);
    assert.equal(messages.length, 1);
    const progress = await (await fetch(`${base}/orders/${workflowID}/progress`)).text();
    const seen = [...progress.matchAll(/"stage":"(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual(seen, ['reserved', 'awaiting_payment', 'declined', 'cancelled']);
    assert.ok(progress.endsWith('event: end\ndata: {}\n\n'));
  });
});
