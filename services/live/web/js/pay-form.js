// The card form that pays an order: the viewer page's orders, its pay-link dialog, and /me.

import { el, money } from './common.js';
import { t } from './i18n.js';

/**
 * A form paying `order`; `paying` is the page's state of that payment ({since} while it
 * runs, {message, tone} once it says something); `onPay(orderId, card)` pays.
 */
export function payForm(order, paying, onPay, idPrefix = 'card') {
  const inputId = `${idPrefix}-${order.id}`;
  const input = el('input', {
    id: inputId, name: 'card', inputmode: 'numeric', autocomplete: 'cc-number', required: true,
    placeholder: '4242 4242 4242 4242', maxlength: 23, 'aria-describedby': `${inputId}-hint`,
  });
  const form = el('form', { class: 'pay-form', novalidate: true },
    el('label', { for: inputId, text: t('pay.card') }),
    el('div', { class: 'row' }, input,
      el('button', { type: 'submit', class: 'primary', disabled: Boolean(paying && !paying.message), text: t('pay.button', { amount: money(order.amount_cents) }) })),
    el('p', { id: `${inputId}-hint`, class: 'hint', text: t('pay.hint') }),
    el('p', { class: `status ${paying?.tone || ''}`, role: 'status', text: paying ? t(paying.message || 'pay.pending') : '' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onPay(order.id, input.value);
  });
  return form;
}
