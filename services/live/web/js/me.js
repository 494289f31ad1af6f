// The /me page: my orders in every room (pay, cancel, the pickup code and its QR code), my
// waitlist places (leave), my invitations. Phone first. Who I am is the identity the viewer
// page saved in this browser (localStorage `qunlive.me`): live's POST /me/token turns it into
// a fresh room-less viewer token, which orders reads as a buyer's.
import {
  $, api, clock, copyText, dateTime, el, loadConfig, money, setCurrency, show, timeLeft, toast,
} from './common.js';
import {
  asksFulfilment, changeFulfilment, fulfilmentForm, fulfilmentSummary,
} from './fulfilment.js';
import { bindLanguageSelect, onLanguageChange, t, translatePage } from './i18n.js';
import { payForm } from './pay-form.js';

const ME_KEY = 'qunlive.me';
const TABS = ['orders', 'waitlist', 'invitations'];
const STATUS_TONE = { awaiting_payment: 'warn', paid: 'good', deposit_paid: 'good', expired: 'muted', cancelled: 'muted', refunded: 'muted', forfeited: 'muted' };
const REFRESH_MS = 15000;

const state = {
  config: null,
  token: null,
  customerId: null,
  name: '',
  orders: [],
  waitlist: [],
  invitations: null, // GET /me/invitations, when orders answers it
  paying: new Map(), // order_id -> {message, tone}
  busy: new Set(), // order or offer ids with a request on the way (cancel, leave)
  qr: new Map(), // order_id -> {code, url} (an object URL of the SVG)
  tab: 'orders',
};

function savedMe() {
  try {
    return JSON.parse(localStorage.getItem(ME_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

const orders = (path, options = {}) => api(state.config.orders_url, path, { token: state.token, ...options });

// ---- start --------------------------------------------------------------------------------

async function init() {
  translatePage();
  bindLanguageSelect($('#lang'));
  onLanguageChange(renderAll);
  wireTabs();
  $('#me-copy-invite').addEventListener('click', async () => {
    const copied = await copyText($('#me-invite-link').value, $('#me-invite-link'));
    toast(t(copied ? 'common.copied' : 'common.copy_failed'), copied ? 'info' : 'error');
  });
  const me = savedMe();
  try {
    state.config = await loadConfig();
    setCurrency(state.config.currency);
    if (me.token) {
      const grant = await api('', '/me/token', { method: 'POST', body: { previous_token: me.token } });
      state.token = grant.token;
      state.customerId = grant.customer_id;
      state.name = me.name || '';
    }
  } catch (error) {
    show($('#loading'), false);
    if (error.status === 401) { // not one of ours (another deployment's): start afresh
      localStorage.removeItem(ME_KEY);
      nobody();
    } else {
      nobody(error.message || t('err.network'));
    }
    return;
  }
  show($('#loading'), false);
  if (!state.token) {
    nobody();
    return;
  }
  show($('#me-tabs'));
  const wanted = window.location.hash.slice(1);
  selectTab(TABS.includes(wanted) ? wanted : 'orders', false);
  await Promise.all([loadOrders(), loadWaitlist(), loadInvitations()]);
  setInterval(tick, 1000);
  setInterval(() => {
    if (document.visibilityState === 'visible') refresh();
  }, REFRESH_MS);
}

function nobody(text) {
  $('#nobody-text').textContent = text || t('me.nobody_text');
  show($('#nobody'));
}

function refresh() {
  loadOrders();
  loadWaitlist();
  if (state.tab === 'invitations') loadInvitations();
}

// ---- tabs (the ARIA tabs pattern: arrows move between them) -------------------------------

function wireTabs() {
  for (const name of TABS) {
    const tab = $(`#tab-${name}`);
    tab.addEventListener('click', () => selectTab(name));
    tab.addEventListener('keydown', (event) => {
      const at = TABS.indexOf(name);
      const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      selectTab(TABS[(next + TABS.length) % TABS.length]);
      $(`#tab-${state.tab}`).focus();
    });
  }
  window.addEventListener('hashchange', () => {
    const wanted = window.location.hash.slice(1);
    if (TABS.includes(wanted) && wanted !== state.tab) selectTab(wanted, false);
  });
}

function selectTab(name, remember = true) {
  state.tab = name;
  for (const other of TABS) {
    const selected = other === name;
    const tab = $(`#tab-${other}`);
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    show($(`#panel-${other}`), selected);
  }
  if (remember) history.replaceState(null, '', `#${name}`);
  if (name === 'invitations' && state.token) loadInvitations();
}

// ---- my orders ----------------------------------------------------------------------------

// A list read before a delivery choice was saved may come back after it: only the answer
// to the latest read is drawn (the choice itself starts a new read).
let ordersRead = 0;

async function loadOrders() {
  const read = ++ordersRead;
  try {
    const answer = await orders('/me/orders?limit=100');
    if (read !== ordersRead) return;
    state.orders = answer;
  } catch (error) {
    if (read !== ordersRead) return;
    if (error.status === 0) return; // a blip: the next refresh tries again
    toast(error.message, 'error');
    return;
  }
  for (const order of state.orders) {
    if (order.status !== 'awaiting_payment') state.paying.delete(order.id);
    if (order.pickup_code && order.status === 'paid' && state.qr.get(order.id)?.code !== order.pickup_code) loadQr(order);
  }
  renderOrders();
}

async function loadQr(order) {
  state.qr.set(order.id, { code: order.pickup_code, url: null });
  try {
    const response = await fetch(
      `${state.config.orders_url}/me/orders/${encodeURIComponent(order.id)}/pickup-qr.svg`,
      { headers: { Authorization: `Bearer ${state.token}` } },
    );
    if (!response.ok) throw new Error(String(response.status));
    const url = URL.createObjectURL(await response.blob());
    state.qr.set(order.id, { code: order.pickup_code, url });
  } catch {
    state.qr.delete(order.id); // the code itself is still shown, big
  }
  renderOrders();
}

function renderOrders() {
  const list = $('#my-orders');
  show($('#orders-empty'), state.orders.length === 0);
  redrawKeepingInput(list, state.orders.map(renderOrder));
}

function roomLink(roomId) {
  return el('a', { class: 'room-link', href: `/r/${encodeURIComponent(roomId)}`, text: t('me.open_room') });
}

function renderOrder(order) {
  const waiting = order.status === 'awaiting_payment';
  const title = `${order.title || t('orders.item')}${order.variant ? ` · ${order.variant}` : ''} × ${order.quantity}`;
  const item = el('li', { class: 'order my-order', dataset: { orderId: order.id, status: order.status } },
    el('div', { class: 'order-head' },
      el('strong', { text: title }),
      el('span', { class: `badge ${STATUS_TONE[order.status] || ''}`, text: t(`order.${order.status}`) })),
    el('p', { class: 'order-meta' },
      el('span', { class: 'order-amount', text: money(order.amount_cents) }), ' · ',
      el('span', { class: 'muted', text: dateTime(order.created_at) }), ' · ',
      roomLink(order.room_id)),
    waiting ? el('p', { class: 'order-deadline', text: deadline(order) }) : null,
    howItComes(order),
    order.fulfilled_at ? el('p', { class: 'handed-over', text: t('me.handed_over', { when: dateTime(order.fulfilled_at) }) }) : null,
    !order.fulfilled_at && order.pickup_code && order.status === 'paid' ? pickupCode(order) : null,
    order.from_waitlist ? el('p', { class: 'hint', text: t('orders.from_waitlist') }) : null,
  );
  if (waiting) item.append(...toPay(order));
  return item;
}

function deadline(order) {
  const left = timeLeft(order.pay_by);
  return left ? t('orders.pay_by', { when: clock(order.pay_by), left }) : t('orders.pay_late');
}

/** Delivery or pickup, as chosen (js/fulfilment.js says it, with the point's hours). */
function howItComes(order) {
  if (!order.fulfilment) return null;
  return fulfilmentSummary(order, order.pickup);
}

function pickupCode(order) {
  const qr = state.qr.get(order.id);
  return el('div', { class: 'pickup-box' },
    el('p', { class: 'pickup-label', text: t('me.pickup_code') }),
    el('p', { class: 'pickup-code', text: order.pickup_code }),
    qr?.url ? el('img', { class: 'pickup-qr', src: qr.url, width: 200, height: 200, alt: t('me.qr_alt', { code: order.pickup_code }) }) : null,
    el('p', { class: 'hint', text: t('me.pickup_hint') }));
}

/** An order awaiting payment: delivery or pickup first (js/fulfilment.js, as on the viewer
 * page), then the pay form with a way to change the choice; and "Cancel order". */
function toPay(order) {
  const parts = [];
  if (asksFulfilment(order)) {
    parts.push(fulfilmentForm(order, {
      ordersUrl: state.config.orders_url,
      auth: { token: state.token },
      roomId: order.room_id,
      onChosen: (saved) => {
        if (saved?.id) state.orders = state.orders.map((known) => (known.id === saved.id ? { ...known, ...saved } : known));
        renderOrders();
        loadOrders();
      },
    }));
  } else {
    parts.push(el('button', {
      type: 'button', class: 'link-button', text: t('fulfil.change'),
      onclick: () => {
        changeFulfilment(order);
        renderOrders();
      },
    }));
    parts.push(payForm(order, state.paying.get(order.id), pay));
  }
  const busy = state.busy.has(order.id);
  parts.push(el('div', { class: 'row order-actions' },
    el('button', {
      type: 'button', class: 'cancel-order', disabled: busy, text: t('me.cancel'),
      'aria-label': t('me.cancel_label', { title: order.title || t('orders.item') }),
      onclick: () => cancel(order),
    })));
  return parts;
}


async function pay(orderId, card) {
  if (card.replace(/\D/g, '').length < 12) {
    state.paying.set(orderId, { message: 'pay.bad_card', tone: 'error' });
    renderOrders();
    return;
  }
  state.paying.set(orderId, {});
  renderOrders();
  try {
    await orders(`/orders/${encodeURIComponent(orderId)}/pay`, { method: 'POST', body: { card: card.trim() } });
  } catch (error) {
    state.paying.set(orderId, { message: error.status ? 'pay.refused' : 'err.network', tone: 'error' });
    renderOrders();
    return;
  }
  // The outcome comes by the gateway's callback: look until the order says so.
  for (let i = 0; i < 15 && state.paying.has(orderId); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await loadOrders();
  }
  if (state.paying.has(orderId)) {
    state.paying.set(orderId, { message: 'pay.not_confirmed', tone: 'error' });
    renderOrders();
  }
}

async function cancel(order) {
  // eslint-disable-next-line no-alert
  if (!window.confirm(t('me.cancel_confirm', { title: order.title || t('orders.item') }))) return;
  state.busy.add(order.id);
  renderOrders();
  try {
    await orders(`/orders/${encodeURIComponent(order.id)}/cancel`, { method: 'POST' });
    toast(t('me.cancelled'));
  } catch (error) {
    toast(error.status ? t('me.cancel_refused') : t('err.network'), 'error');
  } finally {
    state.busy.delete(order.id);
  }
  await Promise.all([loadOrders(), loadWaitlist()]);
}

// ---- my waitlist --------------------------------------------------------------------------

async function loadWaitlist() {
  try {
    state.waitlist = await orders('/me/waitlist');
  } catch (error) {
    if (error.status !== 0) toast(error.message, 'error');
    return;
  }
  renderWaitlist();
}

function renderWaitlist() {
  show($('#waitlist-empty'), state.waitlist.length === 0);
  $('#my-waitlist').replaceChildren(...state.waitlist.map((place) => {
    const title = `${place.title || t('orders.item')}${place.variant ? ` · ${place.variant}` : ''} × ${place.quantity}`;
    return el('li', { class: 'order waiting', dataset: { offerId: place.offer_id } },
      el('div', { class: 'order-head' },
        el('strong', { text: title }),
        el('span', { class: 'badge warn', text: t('me.place', { place: place.place }) })),
      el('p', { class: 'order-meta' },
        el('span', { class: 'muted', text: t('me.waiting_since', { when: dateTime(place.joined_at) }) }), ' · ',
        roomLink(place.room_id)),
      el('div', { class: 'row order-actions' },
        el('button', {
          type: 'button', disabled: state.busy.has(place.offer_id), text: t('me.leave'),
          'aria-label': t('me.leave_label', { title: place.title || t('orders.item') }),
          onclick: () => leave(place),
        })));
  }));
}

async function leave(place) {
  state.busy.add(place.offer_id);
  renderWaitlist();
  const status = $('#waitlist-status');
  try {
    await orders(`/me/waitlist/${encodeURIComponent(place.offer_id)}`, { method: 'DELETE' });
    status.textContent = t('me.left', { title: place.title || t('orders.item') });
    status.className = 'status good';
  } catch (error) {
    status.textContent = error.status === 404 ? t('me.not_waiting') : t('err.network');
    status.className = 'status error';
  } finally {
    state.busy.delete(place.offer_id);
  }
  await loadWaitlist();
}

// ---- my invitations -----------------------------------------------------------------------

function inviteLink() {
  const room = savedMe().room_id || state.orders[0]?.room_id;
  if (!room) return '';
  const url = new URL(`/r/${encodeURIComponent(room)}`, window.location.origin);
  url.searchParams.set('ref', state.customerId);
  return url.toString();
}

async function loadInvitations() {
  try {
    state.invitations = await orders('/me/invitations');
  } catch {
    state.invitations = null; // not offered by this orders (yet): the link alone
  }
  renderInvitations();
}

function renderInvitations() {
  $('#me-invite-link').value = inviteLink();
  const data = state.invitations;
  show($('#earnings'), Boolean(data));
  if (!data) return;
  $('#owed').textContent = t('me.owed', { amount: money(data.owed_cents) });
  $('#levels').replaceChildren(...(data.levels || []).map((level) => el('tr', {},
    el('th', { scope: 'row', text: t('me.level_n', { level: level.level }) }),
    el('td', { text: money(level.accrued_cents) }),
    el('td', { text: money(level.reversed_cents) }),
    el('td', { text: money(level.paid_out_cents) }))));
  const invitees = data.invitees || [];
  show($('#invitees-empty'), invitees.length === 0);
  $('#invitees').replaceChildren(...invitees.map((person) => el('li', { class: 'order invitee' },
    el('div', { class: 'order-head' },
      el('strong', { text: person.name }),
      el('span', { class: 'muted', text: person.joined_at ? dateTime(person.joined_at) : '' })),
    el('p', { text: t('me.invitee_orders', { orders: person.orders, amount: money(person.paid_cents) }) }))));
  const lines = data.lines || [];
  show($('#lines-heading'), lines.length > 0);
  $('#lines').replaceChildren(...lines.map((line) => el('li', { class: 'order commission', dataset: { status: line.status } },
    el('div', { class: 'order-head' },
      el('strong', { text: `${line.title || t('orders.item')} · ${t('me.level_n', { level: line.level })}` }),
      el('span', { class: `badge ${line.status === 'reversed' ? 'muted' : 'good'}`, text: t(`me.line_${line.status === 'reversed' ? 'reversed' : 'accrued'}`) })),
    el('p', {},
      el('span', { class: 'order-amount', text: money(line.amount_cents) }), ' · ',
      el('span', { class: 'muted', text: t('me.line_paid', { amount: money(line.paid_cents) }) }), ' · ',
      el('span', { class: 'muted', text: dateTime(line.created_at) })))));
}

// ---- rendering ----------------------------------------------------------------------------

/** Replace `box`'s children: a card number being typed survives the redraw, and the focus. */
function redrawKeepingInput(box, children) {
  const typed = new Map([...box.querySelectorAll('input, textarea')].map((input) => [input.id, input.value]));
  const focused = document.activeElement?.id;
  box.replaceChildren(...children);
  for (const [id, value] of typed) {
    const input = id && document.getElementById(id);
    if (input && !input.value) input.value = value;
  }
  if (focused && box.querySelector(`#${CSS.escape(focused)}`)) document.getElementById(focused).focus();
}

function renderAll() {
  document.title = `${t('me.title')} · Qunlive`;
  $('#me-name').textContent = state.name;
  show($('#me-name'), Boolean(state.name));
  if (!state.token) return;
  renderOrders();
  renderWaitlist();
  renderInvitations();
}

function tick() {
  for (const order of state.orders) {
    if (order.status !== 'awaiting_payment') continue;
    const node = document.querySelector(`li[data-order-id="${CSS.escape(order.id)}"] .order-deadline`);
    if (node) node.textContent = deadline(order);
  }
}

init().then(renderAll);
