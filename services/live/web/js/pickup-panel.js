// The console's "Pickup points" section (orders' /pickup-points): the host's points, the
// rooms each serves (this room, and any others by id), create, edit, retire, and a
// "Desk link" per point for the person at the pickup desk (POST /pickup-points/{id}/desk-token).
import { $, copyText, dateTime, el, show, toast } from './common.js';
import { t } from './i18n.js';

const splitIds = (text) => [...new Set(String(text || '').split(/[\s,，]+/).map((s) => s.trim()).filter(Boolean))];

export class PickupPanel {
  /** orders(path, options): orders' API with the console's credential; errorText(error):
   * the console's words for a failed call. */
  constructor({ orders, errorText }) {
    this.orders = orders;
    this.errorText = errorText;
    this.roomId = null;
    this.points = [];
    this.editing = null; // the point being edited, or null (the form creates)
    this.desk = new Map(); // point_id -> {desk_url, expires_at}
    this.error = null; // () => text, said again in a new language
    $('#pickup-form').addEventListener('submit', (event) => this.save(event));
    $('#pickup-cancel').addEventListener('click', () => this.edit(null));
    $('#pickup-retired').addEventListener('change', () => this.refresh());
  }

  open(roomId) {
    this.roomId = roomId;
    this.edit(null);
    this.refresh();
  }

  close() {
    this.roomId = null;
    this.points = [];
    $('#pickup-list').replaceChildren();
  }

  relabel() {
    this.render();
    this.renderForm();
  }

  async refresh() {
    const retired = $('#pickup-retired').checked;
    try {
      this.points = await this.orders(`/pickup-points${retired ? '?include_retired=true' : ''}`);
      this.error = null;
    } catch (error) {
      this.error = () => this.errorText(error);
    }
    this.render();
  }

  render() {
    $('#pickup-error').textContent = this.error ? this.error() : '';
    const here = this.points.filter((p) => p.room_ids.includes(this.roomId));
    const elsewhere = this.points.filter((p) => !p.room_ids.includes(this.roomId));
    $('#pickup-empty').hidden = this.points.length > 0;
    $('#pickup-list').replaceChildren(...[...here, ...elsewhere].map((point) => this.card(point)));
  }

  card(point) {
    const retired = Boolean(point.retired_at);
    const serves = point.room_ids.includes(this.roomId);
    const others = point.room_ids.filter((id) => id !== this.roomId);
    const desk = this.desk.get(point.id);
    const deskId = `desk-url-${point.id}`;
    return el('li', { class: `pickup-point${retired ? ' retired' : ''}`, dataset: { pointId: point.id } },
      el('div', { class: 'order-head' },
        el('h3', { text: point.name }),
        retired
          ? el('span', { class: 'badge muted', text: t('pickup.retired_at', { when: dateTime(point.retired_at) }) })
          : el('span', { class: `badge ${serves ? 'good' : ''}`, text: t(serves ? 'pickup.serves_here' : 'pickup.not_here') })),
      el('p', { text: point.address }),
      point.hours ? el('p', { class: 'hint', text: t('fulfil.hours', { hours: point.hours }) }) : null,
      point.contact ? el('p', { class: 'hint', text: t('fulfil.contact', { contact: point.contact }) }) : null,
      others.length ? el('p', { class: 'hint', text: t('pickup.other_rooms', { rooms: others.join(', ') }) }) : null,
      retired ? null : el('div', { class: 'actions' },
        el('button', { type: 'button', text: t('pickup.edit'), 'aria-label': t('pickup.edit_named', { name: point.name }), onclick: () => this.edit(point) }),
        el('button', { type: 'button', text: t('pickup.retire'), 'aria-label': t('pickup.retire_named', { name: point.name }), onclick: () => this.retire(point) }),
        el('button', { type: 'button', text: t('pickup.desk_link'), 'aria-label': t('pickup.desk_named', { name: point.name }), onclick: () => this.deskLink(point) })),
      desk ? el('div', { class: 'desk-link' },
        el('label', { for: deskId, text: t('pickup.desk_url') }),
        el('div', { class: 'row' },
          el('input', { id: deskId, readonly: true, value: desk.desk_url }),
          el('button', { type: 'button', text: t('common.copy'), onclick: async () => {
            const copied = await copyText(desk.desk_url, document.getElementById(deskId));
            toast(t(copied ? 'common.copied' : 'common.copy_failed'), copied ? 'info' : 'error');
          } })),
        desk.expires_at ? el('p', { class: 'hint', text: t('pickup.desk_until', { when: dateTime(desk.expires_at) }) }) : null)
        : null);
  }

  edit(point) {
    this.editing = point;
    const form = $('#pickup-form');
    form.reset();
    $('#pickup-here').checked = true;
    if (point) {
      $('#pickup-name').value = point.name;
      $('#pickup-address').value = point.address;
      $('#pickup-hours').value = point.hours;
      $('#pickup-contact').value = point.contact;
      $('#pickup-here').checked = point.room_ids.includes(this.roomId);
      $('#pickup-rooms').value = point.room_ids.filter((id) => id !== this.roomId).join(', ');
      $('#pickup-name').focus();
    }
    $('#pickup-form-status').textContent = '';
    this.renderForm();
  }

  renderForm() {
    $('#pickup-form-heading').textContent = this.editing
      ? t('pickup.edit_heading', { name: this.editing.name })
      : t('pickup.new_heading');
    $('#pickup-submit').textContent = t(this.editing ? 'pickup.save' : 'pickup.create');
    show($('#pickup-cancel'), Boolean(this.editing));
  }

  async save(event) {
    event.preventDefault();
    const status = $('#pickup-form-status');
    const name = $('#pickup-name').value.trim();
    const address = $('#pickup-address').value.trim();
    if (!name || !address) {
      status.textContent = t('pickup.need_name_address');
      (name ? $('#pickup-address') : $('#pickup-name')).focus();
      return;
    }
    const rooms = splitIds($('#pickup-rooms').value).filter((id) => id !== this.roomId);
    const body = {
      name,
      address,
      hours: $('#pickup-hours').value.trim(),
      contact: $('#pickup-contact').value.trim(),
      room_ids: [...($('#pickup-here').checked && this.roomId ? [this.roomId] : []), ...rooms],
    };
    const editing = this.editing;
    status.textContent = '';
    try {
      const saved = editing
        ? await this.orders(`/pickup-points/${encodeURIComponent(editing.id)}`, { method: 'PATCH', body })
        : await this.orders('/pickup-points', { method: 'POST', body });
      toast(t(editing ? 'pickup.saved' : 'pickup.created', { name: saved.name }));
      this.edit(null);
    } catch (error) {
      status.textContent = error.status === 422 ? t('pickup.invalid', { detail: error.detail || '' }) : this.errorText(error);
      return;
    }
    await this.refresh();
  }

  async retire(point) {
    if (!window.confirm(t('pickup.retire_confirm', { name: point.name }))) return;
    try {
      await this.orders(`/pickup-points/${encodeURIComponent(point.id)}/retire`, { method: 'POST' });
      toast(t('pickup.retired', { name: point.name }));
      if (this.editing?.id === point.id) this.edit(null);
    } catch (error) {
      this.error = () => this.errorText(error);
    }
    await this.refresh();
  }

  async deskLink(point) {
    try {
      const answer = await this.orders(`/pickup-points/${encodeURIComponent(point.id)}/desk-token`, {
        method: 'POST', body: {},
      });
      this.desk.set(point.id, answer);
      this.error = null;
      this.render();
      const input = document.getElementById(`desk-url-${point.id}`);
      input?.focus();
      input?.select();
      const copied = await copyText(answer.desk_url, input);
      if (copied) toast(t('common.copied'));
    } catch (error) {
      this.error = () => this.errorText(error);
      this.render();
    }
  }
}
