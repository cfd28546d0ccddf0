// The shop page: Checkout posts to /checkout (following its redirect tells us the new order and its payment page),
// the orders list polls /orders, and the selected order's progress comes live from /orders/<id>/progress (SSE).
'use strict';

const LABELS = {
  reserved: 'Item reserved',
  awaiting_payment: 'Payment link published',
  paid: 'Paid',
  declined: 'Payment declined',
  timed_out: 'Payment timed out',
  packed: 'Packed',
  shipped: 'Shipped',
  cancelled: 'Order cancelled',
};

const $ = (id) => document.getElementById(id);
let selected = null; // the order shown
let source = null; // its EventSource
let lastId = null; // the id of the last progress event shown

function setConnection(state) {
  const badge = $('connection');
  badge.textContent = state;
  badge.className = `badge ${state}`;
}

function showProgress(p) {
  const li = document.createElement('li');
  li.dataset.stage = p.stage;
  li.textContent = LABELS[p.stage] ?? p.stage;
  if (p.detail && p.stage !== 'awaiting_payment') li.textContent += `: ${p.detail}`;
  const at = document.createElement('span');
  at.className = 'at';
  at.textContent = new Date(p.at).toLocaleTimeString();
  li.append(at);
  $('progress').append(li);
  if (p.stage === 'awaiting_payment') {
    $('pay-link').href = p.detail;
    $('payment').hidden = false;
  } else {
    $('payment').hidden = true;
  }
}

function connect() {
  const url = `/orders/${encodeURIComponent(selected)}/progress` + (lastId === null ? '' : `?lastEventId=${lastId}`);
  const es = new EventSource(url);
  source = es;
  es.onopen = () => setConnection('live');
  es.onmessage = (e) => {
    lastId = e.lastEventId;
    showProgress(JSON.parse(e.data));
  };
  es.addEventListener('end', () => {
    es.close();
    setConnection('complete');
  });
  es.addEventListener('stream-error', (e) => {
    es.close();
    setConnection('error');
    console.error('progress stream failed', e.data);
  });
  es.onerror = () => {
    if (source !== es) return;
    setConnection('reconnecting');
    // The browser reconnects by itself (sending Last-Event-ID); if it gave up, open a new one from where we were.
    if (es.readyState === EventSource.CLOSED) setTimeout(() => source === es && connect(), 1000);
  };
}

function select(workflowID) {
  if (source) source.close();
  source = null;
  selected = workflowID;
  lastId = null;
  $('progress').replaceChildren();
  $('payment').hidden = true;
  $('order-id').textContent = `Order ${workflowID}`;
  history.replaceState(null, '', `/?order=${encodeURIComponent(workflowID)}`);
  for (const li of document.querySelectorAll('#orders li')) li.classList.toggle('selected', li.dataset.id === workflowID);
  connect();
}

async function refreshOrders() {
  try {
    const orders = await (await fetch('/orders')).json();
    const list = $('orders');
    list.replaceChildren(
      ...orders.map((o) => {
        const li = document.createElement('li');
        li.dataset.id = o.workflowID;
        li.dataset.status = o.status;
        li.classList.toggle('selected', o.workflowID === selected);
        const id = document.createElement('span');
        id.className = 'id';
        id.textContent = o.workflowID;
        const status = document.createElement('span');
        const cancelled = typeof o.output === 'string' && o.output.startsWith('cancelled');
        status.className = `status ${cancelled ? 'cancelled' : o.status}`;
        status.textContent = o.status === 'PENDING' ? 'in progress' : (o.output ?? o.status);
        li.append(id, status);
        li.onclick = () => select(o.workflowID);
        return li;
      }),
    );
  } catch {
    // The server is restarting: the next poll catches up.
  }
}

$('checkout-form').addEventListener('submit', async (e) => {
  // The form works without JavaScript (the browser follows the 303 to the payment page); here the page stays,
  // and the redirect's target names the new order.
  e.preventDefault();
  $('checkout').disabled = true;
  $('checkout-note').textContent = '';
  try {
    const res = await fetch('/checkout', { method: 'POST' });
    const target = new URL(res.url);
    if (target.pathname.startsWith('/pay/')) {
      select(decodeURIComponent(target.pathname.slice('/pay/'.length)));
      await refreshOrders();
    } else {
      $('checkout-note').textContent = 'Checkout cancelled: no payment link came in time.';
    }
  } catch (err) {
    $('checkout-note').textContent = `Checkout failed: ${err.message}`;
  } finally {
    $('checkout').disabled = false;
  }
});

const initial = new URLSearchParams(location.search).get('order');
if (initial) select(initial);
refreshOrders();
setInterval(refreshOrders, 1500);
