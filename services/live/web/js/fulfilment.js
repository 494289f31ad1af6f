// Delivery or pickup for an order awaiting payment: asked before the pay form, on the
// viewer page (my orders, a group's pay link) and on /me. Phone first.
//
//   fulfilmentForm(order, {ordersUrl, auth, roomId, onChosen}) -> a <form>
//   fulfilmentSummary(order, point) -> a <p> saying "Pickup at X, hours" / "Deliver to ..."
//
// `auth` is what common.js api() takes: {token} (the buyer's viewer token) or
// {headers: {'X-Pay-Token': ...}} (a pay link: it may choose, but never reads the address
// back, and the buyer's saved address is not offered to it).
import { api, el } from './common.js';
import { t } from './i18n.js';

// What the buyer typed or picked, per order: a redraw of the list (an order or offer
// update) builds the form again from it, so nothing typed is lost.
const drafts = new Map(); // order_id -> {method, address, point, editing, busy, error}
const roomPoints = new Map(); // room_id -> Promise<points>
const points = new Map(); // point_id -> point (once known)
const loading = new Map(); // point_id -> Promise<point | null>
let savedAddress = null; // Promise<string | null> for the buyer's token

/** The active pickup points of a room (cached; a failure is asked again next time). */
export function pointsOfRoom(ordersUrl, roomId) {
  if (!roomPoints.has(roomId)) {
    const job = api(ordersUrl, `/rooms/${encodeURIComponent(roomId)}/pickup-points`)
      .then((list) => {
        for (const point of list) points.set(point.id, point);
        return list;
      })
      .catch((error) => {
        roomPoints.delete(roomId);
        throw error;
      });
    roomPoints.set(roomId, job);
  }
  return roomPoints.get(roomId);
}

/** A point already known (from its room's list or loaded by id), or null. */
export function knownPoint(pointId) {
  return (pointId && points.get(pointId)) || null;
}

/** A point by id (a retired one too: an order there still shows where to collect it). */
export function loadPoint(ordersUrl, pointId) {
  if (!pointId) return Promise.resolve(null);
  if (points.has(pointId)) return Promise.resolve(points.get(pointId));
  if (!loading.has(pointId)) {
    loading.set(pointId, api(ordersUrl, `/pickup-points/${encodeURIComponent(pointId)}`)
      .then((point) => {
        points.set(pointId, point);
        return point;
      })
      .catch(() => {
        loading.delete(pointId);
        return null;
      }));
  }
  return loading.get(pointId);
}

function lastAddress(ordersUrl, auth) {
  if (!auth?.token) return Promise.resolve(null); // a pay link: not the holder's to read
  savedAddress ??= api(ordersUrl, '/me/delivery', { token: auth.token })
    .then((answer) => answer?.address || null)
    .catch(() => {
      savedAddress = null;
      return null;
    });
  return savedAddress;
}

/** Whether the order should show the form (not chosen yet, or "Change" was tapped). */
export function asksFulfilment(order) {
  if (order.status !== 'awaiting_payment') return false;
  return !order.fulfilment || Boolean(drafts.get(order.id)?.editing);
}

/** Show the form again for an order already chosen. */
export function changeFulfilment(order) {
  drafts.set(order.id, { ...draftOf(order), editing: true, error: '' });
}

function draftOf(order) {
  if (!drafts.has(order.id)) {
    drafts.set(order.id, {
      method: order.fulfilment || '',
      address: order.address || '',
      point: order.pickup_point || '',
      editing: false,
      busy: false,
      error: '',
      prefilled: Boolean(order.address),
    });
  }
  return drafts.get(order.id);
}

function pointLabel(point) {
  return [point.name, point.address].filter(Boolean).join(' — ');
}

function pointDetails(point) {
  if (!point) return [];
  return [
    el('p', { class: 'point-address', text: point.address }),
    point.hours ? el('p', { class: 'hint', text: t('fulfil.hours', { hours: point.hours }) }) : null,
    point.contact ? el('p', { class: 'hint', text: t('fulfil.contact', { contact: point.contact }) }) : null,
  ];
}

/**
 * The "Delivery or pickup" form for `order`. `onChosen(order)` gets orders' answer once
 * the choice is saved (the caller redraws: the pay form comes next).
 */
export function fulfilmentForm(order, { ordersUrl, auth, roomId, onChosen }) {
  const draft = draftOf(order);
  const id = (name) => `ful-${name}-${order.id}`;
  const radio = (value) => el('label', { class: 'choice' },
    el('input', {
      type: 'radio', name: id('method'), id: id(value), value, checked: draft.method === value,
      disabled: draft.busy,
    }),
    el('span', { text: t(`fulfil.${value}`) }));
  const address = el('textarea', {
    id: id('address'), name: 'address', rows: 3, maxlength: 500, autocomplete: 'street-address',
    required: true, 'aria-describedby': id('address-hint'),
  });
  address.value = draft.address;
  const select = el('select', { id: id('point'), name: 'pickup_point', required: true });
  const details = el('div', { class: 'point-details', 'aria-live': 'polite' });
  const pickupHint = el('p', { class: 'hint', text: t('common.loading') });
  const status = el('p', { class: `status ${draft.error ? 'error' : ''}`, role: 'status', text: draft.error });
  const submit = el('button', {
    type: 'submit', class: 'primary', disabled: draft.busy, text: t('fulfil.continue'),
  });
  const deliveryBox = el('div', { class: 'fulfil-delivery' },
    el('label', { for: id('address'), text: t('fulfil.address') }),
    address,
    el('p', { id: id('address-hint'), class: 'hint', text: t('fulfil.address_hint') }));
  const pickupBox = el('div', { class: 'fulfil-pickup' },
    el('label', { for: id('point'), text: t('fulfil.point') }),
    select, details, pickupHint);
  const form = el('form', { class: 'fulfil-form', novalidate: true, dataset: { orderId: order.id } },
    el('fieldset', {},
      el('legend', { text: t('fulfil.legend') }),
      el('div', { class: 'choices' }, radio('delivery'), radio('pickup'))),
    deliveryBox, pickupBox, status,
    el('div', { class: 'actions' }, submit,
      order.fulfilment ? el('button', {
        type: 'button',
        text: t('fulfil.keep'),
        onclick: () => {
          drafts.delete(order.id);
          onChosen?.(order);
        },
      }) : null));

  const showMethod = () => {
    deliveryBox.hidden = draft.method !== 'delivery';
    pickupBox.hidden = draft.method !== 'pickup';
  };
  const showPoint = () => {
    details.replaceChildren(...pointDetails(knownPoint(draft.point)));
  };
  showMethod();
  form.addEventListener('change', (event) => {
    if (event.target.type === 'radio') {
      draft.method = event.target.value;
      draft.error = '';
      status.textContent = '';
      showMethod();
    } else if (event.target === select) {
      draft.point = select.value;
      showPoint();
    }
  });
  address.addEventListener('input', () => {
    draft.address = address.value;
  });

  // The room's points fill the select; none: say so (delivery it is).
  pointsOfRoom(ordersUrl, roomId || order.room_id).then((list) => {
    const options = list.map((point) => el('option', { value: point.id, text: pointLabel(point) }));
    select.replaceChildren(el('option', { value: '', text: t('fulfil.choose_point') }), ...options);
    if (draft.point && !list.some((p) => p.id === draft.point)) draft.point = '';
    if (!draft.point && list.length === 1) draft.point = list[0].id;
    select.value = draft.point;
    select.disabled = list.length === 0 || draft.busy;
    pickupHint.textContent = list.length ? '' : t('fulfil.no_points');
    pickupHint.hidden = list.length > 0;
    showPoint();
  }).catch(() => {
    pickupHint.textContent = t('err.network');
  });
  // Last time's address, offered again (never over what is typed).
  if (!draft.prefilled) {
    draft.prefilled = true;
    lastAddress(ordersUrl, auth).then((saved) => {
      if (saved && !draft.address) {
        draft.address = saved;
        // The form on screen may be a later drawing of this one: fill that.
        const shown = document.getElementById(id('address')) || address;
        if (!shown.value) shown.value = saved;
      }
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    if (draft.method === 'delivery') {
      const text = address.value.trim();
      if (!text) return fail('fulfil.need_address', address);
      body = { method: 'delivery', address: text };
    } else if (draft.method === 'pickup') {
      if (!select.value) return fail('fulfil.need_point', select);
      body = { method: 'pickup', pickup_point: select.value };
    } else {
      return fail('fulfil.need_method', form.querySelector('input[type=radio]'));
    }
    draft.busy = true;
    draft.error = '';
    submit.disabled = true;
    status.className = 'status';
    status.textContent = t('fulfil.saving');
    try {
      const saved = await api(ordersUrl, `/orders/${encodeURIComponent(order.id)}/fulfilment`, {
        method: 'POST', body, ...auth,
      });
      drafts.delete(order.id);
      if (body.method === 'delivery' && auth?.token) savedAddress = Promise.resolve(body.address);
      if (body.method === 'pickup') roomPoints.delete(roomId || order.room_id); // a fresh list next time
      onChosen?.(saved);
    } catch (error) {
      draft.busy = false;
      const code = error.body?.code;
      if (code === 'unknown_pickup_point') roomPoints.delete(roomId || order.room_id);
      const key = code === 'unknown_pickup_point' ? 'fulfil.point_gone'
        : code === 'already_fulfilled' ? 'fulfil.already'
          : error.status ? 'fulfil.refused' : 'err.network';
      draft.error = t(key);
      status.className = 'status error';
      status.textContent = draft.error;
      submit.disabled = false;
    }
    return undefined;
  });

  function fail(key, field) {
    draft.error = t(key);
    status.className = 'status error';
    status.textContent = draft.error;
    field?.focus();
  }

  return form;
}

/** One line (and the point's details) on how the order reaches the buyer; null: not chosen. */
export function fulfilmentSummary(order, point) {
  if (order.fulfilment === 'pickup') {
    const where = point || knownPoint(order.pickup_point);
    if (!where) return el('p', { class: 'fulfil-summary', text: t('fulfil.pickup_somewhere') });
    return el('div', { class: 'fulfil-summary' },
      el('p', { text: where.hours
        ? t('fulfil.pickup_at_hours', { name: where.name, hours: where.hours })
        : t('fulfil.pickup_at', { name: where.name }) }),
      el('p', { class: 'hint', text: where.address }));
  }
  if (order.fulfilment === 'delivery') {
    return el('p', { class: 'fulfil-summary', text: order.address
      ? t('fulfil.deliver_to', { address: order.address })
      : t('fulfil.delivery_chosen') });
  }
  return null;
}
