// The console's "Orders" section (orders' GET /rooms/{room}/orders): the room's orders of
// the host's offers (the admin: all), filtered by offer, status, delivery or pickup and
// pickup point; the totals of everything the filters match; a refund from the list (all
// that is left or a part, confirmed in a dialog: POST /orders/{id}/refund); and the same
// list as a CSV (GET /rooms/{room}/orders.csv), fetched with the host's token and saved.
import { $, dateTime, el, money, show, toCents, toast } from './common.js';
import { t } from './i18n.js';

const PAGE = 50; // one "Show more" (the API takes up to 500)
const REFRESH_EVERY_MS = 15000; // orders come in and get paid while the show runs
const REFUNDABLE = ['paid', 'deposit_paid'];
const TOTALS = {
  orders: '#orders-total-count', units: '#orders-total-units',
};
const MONEY_TOTALS = {
  amount_cents: '#orders-total-amount', paid_cents: '#orders-total-paid',
  refunded_cents: '#orders-total-refunded',
};

const left = (order) => order.paid_cents - order.refunded_cents;

export class OrdersPanel {
  /** orders(path, options): orders' API with the console's credential; ordersUrl: its base
   * (the CSV is fetched raw); token(): the console's credential; offers(): the room's offers
   * as the console last read them; errorText(error): the console's words for a failure. */
  constructor({ orders, ordersUrl, token, offers, errorText }) {
    Object.assign(this, { orders, ordersUrl, token, offers, errorText });
    this.roomId = null;
    this.list = [];
    this.total = 0;
    this.totals = null;
    this.points = new Map(); // id -> name: from /pickup-points, and from the orders seen
    this.error = null;
    this.refunding = null; // the order the dialog is about
    this.timer = null;
    this.loading = 0; // a newer load wins over an older one still in flight
    $('#orders-filters').addEventListener('change', () => this.load());
    $('#orders-filters').addEventListener('submit', (event) => event.preventDefault());
    $('#orders-refresh').addEventListener('click', () => this.load());
    $('#orders-more').addEventListener('click', () => this.load(this.list.length + PAGE, true));
    $('#orders-csv').addEventListener('click', () => this.downloadCsv());
    const form = $('#refund-form');
    form.addEventListener('input', () => this.renderRefundForm());
    form.addEventListener('change', () => this.renderRefundForm());
    form.addEventListener('submit', (event) => this.refund(event));
    $('#refund-cancel').addEventListener('click', () => $('#refund-dialog').close());
    $('#refund-dialog').addEventListener('close', () => {
      this.refunding = null;
    });
  }

  open(roomId) {
    this.close();
    this.roomId = roomId;
    this.loadPoints();
    this.load();
    this.timer = setInterval(() => {
      if (document.visibilityState !== 'visible' || $('#refund-dialog').open) return;
      if ($('#orders').contains(document.activeElement) && document.activeElement !== document.body) {
        return; // not while the host is working in the list (a re-render moves the focus)
      }
      this.load(Math.max(this.list.length, PAGE));
    }, REFRESH_EVERY_MS);
  }

  close() {
    clearInterval(this.timer);
    this.timer = null;
    this.roomId = null;
    this.list = [];
    this.total = 0;
    this.totals = null;
    this.points = new Map();
    this.error = null;
    if ($('#refund-dialog').open) $('#refund-dialog').close();
    $('#orders-filters').reset();
    this.render();
  }

  filters() {
    const query = new URLSearchParams();
    for (const name of ['offer_id', 'status', 'fulfilment', 'pickup_point']) {
      const value = $('#orders-filters').elements[name].value;
      if (value) query.set(name, value);
    }
    return query;
  }

  path(what, query) {
    const text = query.toString();
    return `/rooms/${encodeURIComponent(this.roomId)}/${what}${text ? `?${text}` : ''}`;
  }

  /** The first `count` orders the filters match (a page more when `more`). */
  async load(count = PAGE, more = false) {
    const roomId = this.roomId;
    if (!roomId) return;
    const ticket = ++this.loading;
    const query = this.filters();
    query.set('limit', String(Math.min(500, more ? PAGE : count)));
    if (more) query.set('offset', String(this.list.length));
    try {
      const answer = await this.orders(this.path('orders', query));
      if (ticket !== this.loading || roomId !== this.roomId) return;
      this.list = more ? [...this.list, ...answer.orders] : answer.orders;
      this.total = answer.total;
      this.totals = answer.totals;
      for (const order of answer.orders) {
        if (order.pickup_point) {
          this.points.set(order.pickup_point, order.pickup_point_name || this.points.get(order.pickup_point) || order.pickup_point);
        }
      }
      this.error = null;
    } catch (error) {
      if (ticket !== this.loading) return;
      this.error = error;
    }
    this.render();
  }

  /** The host's pickup points serving this room, for the filter (the points the loaded
   * orders name are offered too, should that list not load). */
  async loadPoints() {
    const roomId = this.roomId;
    try {
      const points = await this.orders(
        `/pickup-points?room_id=${encodeURIComponent(roomId)}&include_retired=true`,
      );
      if (roomId !== this.roomId || !Array.isArray(points)) return;
      for (const point of points) this.points.set(point.id, point.name);
      this.renderFilters();
    } catch {
      // the points the orders name are offered instead
    }
  }

  relabel() {
    this.render();
  }

  /** The offer and point choices; redrawn only when they changed (an open select on a
   * phone would close under the host's finger). */
  renderFilters() {
    const offers = this.offers() || [];
    const drawn = JSON.stringify([
      offers.map((offer) => [offer.id, offer.title]), [...this.points], t('hostorders.all_offers'),
    ]);
    if (drawn === this.drawnFilters) return;
    this.drawnFilters = drawn;
    const offerSelect = $('#orders-offer');
    const chosen = offerSelect.value;
    offerSelect.replaceChildren(
      el('option', { value: '', text: t('hostorders.all_offers') }),
      ...offers.map((offer) => el('option', { value: offer.id, text: offer.title })),
    );
    if (chosen && !offers.some((offer) => offer.id === chosen)) {
      offerSelect.append(el('option', { value: chosen, text: chosen }));
    }
    offerSelect.value = chosen;
    const pointSelect = $('#orders-point');
    const point = pointSelect.value;
    pointSelect.replaceChildren(
      el('option', { value: '', text: t('hostorders.all_points') }),
      ...[...this.points].map(([id, name]) => el('option', { value: id, text: name })),
    );
    pointSelect.value = point;
  }

  render() {
    this.renderFilters();
    const totals = this.totals || {
      orders: 0, units: 0, amount_cents: 0, paid_cents: 0, refunded_cents: 0, by_status: {},
    };
    for (const [key, where] of Object.entries(TOTALS)) $(where).textContent = String(totals[key]);
    for (const [key, where] of Object.entries(MONEY_TOTALS)) $(where).textContent = money(totals[key]);
    $('#orders-by-status').textContent = Object.entries(totals.by_status)
      .map(([status, count]) => `${t(`order.${status}`)} ${count}`).join(' · ');
    $('#orders-list').replaceChildren(...this.list.map((order) => this.card(order)));
    show($('#orders-empty'), Boolean(this.roomId) && this.totals !== null && this.list.length === 0);
    show($('#orders-more'), this.list.length < this.total);
    $('#orders-shown').textContent = this.totals && this.list.length
      ? t('hostorders.shown', { shown: this.list.length, total: this.total })
      : '';
    $('#orders-error').textContent = this.error ? this.errorText(this.error) : '';
  }

  item(order) {
    const title = order.variant ? `${order.title} · ${order.variant}` : order.title;
    return `${title} × ${order.quantity}`;
  }

  buyer(order) {
    return order.buyer_name || order.customer_id;
  }

  card(order) {
    const where = order.fulfilment === 'delivery'
      ? t('hostorders.deliver_to', { address: order.address || '' })
      : order.fulfilment === 'pickup'
        ? t('hostorders.pickup_at', { point: order.pickup_point_name || order.pickup_point || '' })
        : t('hostorders.not_chosen');
    const canRefund = REFUNDABLE.includes(order.status) && left(order) > 0;
    return el('li', { dataset: { orderId: order.id } },
      el('div', { class: 'order-head' },
        el('span', { class: 'order-item', text: this.item(order) }),
        el('span', { class: `badge order-${order.status}`, text: t(`order.${order.status}`) })),
      el('span', { class: 'order-line', text: `${this.buyer(order)} · ${t('hostorders.placed', { when: dateTime(order.created_at) })}` }),
      el('span', {
        class: 'order-line',
        text: t('hostorders.money_line', {
          amount: money(order.amount_cents), paid: money(order.paid_cents), refunded: money(order.refunded_cents),
        }),
      }),
      el('span', { class: 'order-line muted', text: where }),
      order.fulfilled_at
        ? el('span', { class: 'order-line', text: t('hostorders.handed_over', { when: dateTime(order.fulfilled_at) }) })
        : null,
      canRefund
        ? el('button', {
          type: 'button',
          class: 'danger',
          text: t('hostorders.refund'),
          'aria-label': t('hostorders.refund_label', { buyer: this.buyer(order), item: this.item(order) }),
          onclick: () => this.askRefund(order),
        })
        : null);
  }

  // ---- refund: a dialog confirms how much -------------------------------------------------

  askRefund(order) {
    this.refunding = order;
    const form = $('#refund-form');
    form.reset();
    $('#refund-error').textContent = '';
    $('#refund-what').textContent = t('hostorders.refund_what', {
      buyer: this.buyer(order), item: this.item(order),
      paid: money(order.paid_cents), refunded: money(order.refunded_cents),
    });
    $('#refund-full-label').textContent = t('hostorders.refund_full', { amount: money(left(order)) });
    this.renderRefundForm();
    $('#refund-dialog').showModal();
  }

  refundCents() {
    const order = this.refunding;
    if (!order) return NaN;
    if ($('#refund-form').elements['refund-how'].value === 'full') return left(order);
    return toCents($('#refund-amount').value.trim());
  }

  renderRefundForm() {
    const order = this.refunding;
    if (!order) return;
    const part = $('#refund-form').elements['refund-how'].value === 'part';
    $('#refund-amount').disabled = !part;
    const cents = this.refundCents();
    $('#refund-confirm').textContent = t('hostorders.refund_confirm', {
      amount: Number.isFinite(cents) && cents > 0 ? money(cents) : '…',
    });
  }

  async refund(event) {
    event.preventDefault();
    const order = this.refunding;
    if (!order) return;
    const full = $('#refund-form').elements['refund-how'].value === 'full';
    const cents = this.refundCents();
    if (!full && !(Number.isInteger(cents) && cents >= 1 && cents <= left(order))) {
      $('#refund-error').textContent = t('hostorders.refund_bad_amount', {
        min: money(1), max: money(left(order)),
      });
      $('#refund-amount').focus();
      return;
    }
    const body = { reason: $('#refund-reason').value.trim() || 'refund' };
    if (!full) body.amount_cents = cents;
    $('#refund-confirm').disabled = true;
    try {
      await this.orders(`/orders/${encodeURIComponent(order.id)}/refund`, { method: 'POST', body });
      $('#refund-dialog').close();
      toast(t('hostorders.refunded_toast', { amount: money(cents) }));
      await this.load(Math.max(this.list.length, PAGE));
    } catch (error) {
      $('#refund-error').textContent = this.errorText(error);
    } finally {
      $('#refund-confirm').disabled = false;
    }
  }

  // ---- CSV ------------------------------------------------------------------------------

  async downloadCsv() {
    if (!this.roomId) return;
    $('#orders-error').textContent = '';
    let response;
    try {
      response = await fetch(this.ordersUrl + this.path('orders.csv', this.filters()), {
        headers: { Authorization: `Bearer ${this.token()}` },
      });
    } catch {
      $('#orders-error').textContent = t('err.network');
      return;
    }
    if (!response.ok) {
      let detail = '';
      try {
        detail = (await response.json()).detail || '';
      } catch { /* not JSON */ }
      $('#orders-error').textContent = this.errorText({ status: response.status, detail, message: detail });
      return;
    }
    const link = el('a', {
      href: URL.createObjectURL(await response.blob()),
      download: `${this.roomId}-orders.csv`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }
}
