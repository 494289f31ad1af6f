// The console's "Promoters" section (orders' /promoters API): per promoter who invited
// buyers to the host's offers, their commissions per level (accrued, reversed by refunds,
// paid out) and what is owed; "Mark paid" records a payout with a reference (the money
// moves outside the platform); the CSV of who to pay, fetched with the host's credential.
import { $, el, money, toast } from './common.js';
import { t } from './i18n.js';

export class PromotersPanel {
  /** orders(path, options): orders' API with the console's credential; ordersUrl and
   * token() for the CSV (a file, not JSON); errorText(error): the console's words. */
  constructor({ orders, ordersUrl, token, errorText }) {
    this.orders = orders;
    this.ordersUrl = ordersUrl;
    this.token = token;
    this.errorText = errorText;
    this.promoters = null;
    this.paying = null; // the customer id whose "Mark paid" form is open
    this.error = null;
    $('#promoters-refresh').addEventListener('click', () => this.refresh());
    $('#promoters-csv').addEventListener('click', () => this.download());
  }

  open() {
    this.refresh();
  }

  close() {
    this.promoters = null;
    this.paying = null;
    this.error = null;
    $('#promoter-list').replaceChildren();
    $('#promoters-error').textContent = '';
  }

  async refresh() {
    try {
      this.promoters = await this.orders('/promoters');
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  render() {
    $('#promoters-error').textContent = this.error ? this.errorText(this.error) : '';
    const list = $('#promoter-list');
    if (!this.promoters) return;
    if (!this.promoters.length) {
      list.replaceChildren(el('li', { class: 'muted' }, t('promoters.none')));
      return;
    }
    list.replaceChildren(...this.promoters.map((p) => this.card(p)));
  }

  card(promoter) {
    const name = promoter.name || promoter.customer_id;
    const headingId = `promoter-${promoter.customer_id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const owed = promoter.owed_cents;
    const rows = promoter.levels.map((level) => el(
      'tr', {},
      el('th', { scope: 'row' }, t('promoters.level_n', { level: level.level })),
      el('td', {}, money(level.accrued_cents)),
      el('td', {}, money(level.reversed_cents)),
      el('td', {}, money(level.paid_out_cents)),
    ));
    const table = el(
      'table', { class: 'promoter-levels' },
      el('caption', { class: 'sr-only' }, t('promoters.levels_of', { name })),
      el(
        'thead', {},
        el(
          'tr', {},
          el('th', { scope: 'col' }, t('promoters.level')),
          el('th', { scope: 'col' }, t('promoters.accrued')),
          el('th', { scope: 'col' }, t('promoters.reversed')),
          el('th', { scope: 'col' }, t('promoters.paid_out')),
        ),
      ),
      el('tbody', {}, ...rows),
    );
    const figures = el(
      'dl', { class: 'promoter-figures' },
      ...[
        ['promoters.invitees', String(promoter.invitees)],
        ['promoters.orders', String(promoter.orders)],
        ['promoters.gmv', money(promoter.gmv_cents)],
        ['promoters.owed', money(owed)],
      ].map(([key, value]) => el('div', { class: key === 'promoters.owed' ? 'owed' : '' },
        el('dt', {}, t(key)), el('dd', {}, value))),
    );
    const item = el(
      'li', { class: 'promoter', 'aria-labelledby': headingId },
      el('h3', { id: headingId }, name,
        promoter.name ? el('span', { class: 'meta' }, ` ${promoter.customer_id}`) : false),
      figures,
      promoter.levels.length ? el('div', { class: 'table-wrap' }, table) : false,
    );
    if (owed < 0) item.append(el('p', { class: 'hint' }, t('promoters.owes_back', { amount: money(-owed) })));
    if (this.paying === promoter.customer_id) {
      item.append(this.payForm(promoter));
    } else {
      const button = el('button', { type: 'button', class: 'primary' }, t('promoters.mark_paid'));
      button.disabled = owed <= 0;
      button.addEventListener('click', () => {
        this.paying = promoter.customer_id;
        this.render();
        $('#payout-reference')?.focus();
      });
      item.append(el('div', { class: 'row buttons' }, button));
    }
    return item;
  }

  payForm(promoter) {
    const name = promoter.name || promoter.customer_id;
    const input = el('input', {
      id: 'payout-reference', name: 'reference', required: '', maxlength: '200', autocomplete: 'off',
    });
    const cancel = el('button', { type: 'button' }, t('promoters.cancel'));
    cancel.addEventListener('click', () => {
      this.paying = null;
      this.render();
    });
    const form = el(
      'form', { class: 'grid-form payout-form', novalidate: true, 'aria-label': t('promoters.pay_to', { name }) },
      el('p', { class: 'span-form' }, t('promoters.pay_amount', { amount: money(promoter.owed_cents), name })),
      el('label', { for: 'payout-reference' }, t('promoters.reference')),
      input,
      el('p', { class: 'hint span-form' }, t('promoters.reference_hint')),
      el('div', { class: 'row buttons' },
        el('button', { type: 'submit', class: 'primary' }, t('promoters.confirm_paid')), cancel),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.pay(promoter, input.value.trim());
    });
    return form;
  }

  async pay(promoter, reference) {
    if (!reference) {
      $('#promoters-error').textContent = t('promoters.reference_needed');
      return;
    }
    try {
      const payout = await this.orders(
        `/promoters/${encodeURIComponent(promoter.customer_id)}/payouts`,
        { method: 'POST', body: { reference } },
      );
      toast(t('promoters.paid', {
        amount: money(payout.amount_cents), name: promoter.name || promoter.customer_id,
      }));
      this.paying = null;
    } catch (error) {
      if (error.body?.code === 'nothing_owed') this.paying = null;
      this.error = error;
      this.render();
      return;
    }
    await this.refresh();
  }

  async download() {
    $('#promoters-error').textContent = '';
    let blob;
    try {
      const response = await fetch(`${this.ordersUrl}/promoters.csv`, {
        headers: { Authorization: `Bearer ${this.token()}` },
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw Object.assign(new Error(body.detail || `HTTP ${response.status}`), {
          status: response.status, detail: body.detail, body,
        });
      }
      blob = await response.blob();
    } catch (error) {
      this.error = error.status === undefined ? Object.assign(error, { status: 0 }) : error;
      this.render();
      return;
    }
    const link = el('a', { href: URL.createObjectURL(blob), download: 'promoters.csv' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }
}
