// The console's product photos (orders: /products/{id}/photos): upload several at once,
// see them in the order buyers will, move them (buttons, or drag on a laptop), describe
// each one (its alt text), delete. What orders refuses is shown with its reason.
import { $, el, show } from './common.js';
import { t } from './i18n.js';
import { picture, productPhotoUrl, usable } from './media.js';

export const MAX_PHOTOS = 10;

function listOf(answer) {
  if (Array.isArray(answer)) return answer;
  if (answer && Array.isArray(answer.photos)) return answer.photos;
  return null;
}

export class PhotoPanel {
  /** orders(path, options): the console's call to orders; onChange(): the lineup redraws. */
  constructor({ orders, ordersUrl, onChange = () => {} }) {
    this.orders = orders;
    this.ordersUrl = ordersUrl;
    this.onChange = onChange;
    this.products = [];
    this.productId = null;
    this.photos = new Map(); // product id -> its photos, in order
    this.busy = false;
    this.status = null; // () => text, so a language change says it again
    this.error = null;
    this.focusAfter = null; // {photoId, what}: where focus goes once the list is drawn again
    this.dragged = null;
    $('#photos-product').addEventListener('change', () => this.choose($('#photos-product').value));
    $('#photo-files').addEventListener('change', () => {
      const files = [...$('#photo-files').files];
      if (files.length) this.upload(files);
    });
  }

  get current() {
    return this.photos.get(this.productId) || [];
  }

  /** The first photo of a product already loaded here (the lineup's small picture). */
  firstOf(productId) {
    return productId ? (this.photos.get(productId) || []).find(usable) || null : null;
  }

  setProducts(products) {
    this.products = products;
    for (const product of products) {
      const known = listOf(product.photos);
      if (known && !this.photos.has(product.id)) this.photos.set(product.id, known);
    }
    const still = products.some((p) => p.id === this.productId);
    if (!still) this.choose(products[0]?.id || null);
    else this.render();
  }

  /** Show product `productId`'s photos (`reveal`: open the panel and go there). */
  async choose(productId, reveal = false) {
    this.productId = productId || null;
    this.say(null);
    this.fail(null);
    this.render();
    if (reveal) {
      $('#photos').open = true;
      $('#photos').scrollIntoView({ block: 'start', behavior: 'smooth' });
      $('#photos-product').focus({ preventScroll: true });
    }
    if (this.productId) await this.load(this.productId);
  }

  async load(productId) {
    try {
      const list = listOf(await this.orders(`/products/${encodeURIComponent(productId)}/photos`));
      this.photos.set(productId, list || []);
      if (this.error?.network) this.fail(null);
    } catch (error) {
      this.failWith(error);
    }
    if (productId === this.productId) this.render();
    this.onChange();
  }

  say(status) {
    this.status = status;
    $('#photos-status').textContent = status ? status() : '';
  }

  fail(error) {
    this.error = error;
    $('#photos-error').textContent = error ? error() : '';
  }

  failWith(error, file = null) {
    const detail = () => (error.status === 0 ? t('err.network') : error.detail || error.message);
    const text = file ? () => t('photos.failed_file', { file, detail: detail() }) : detail;
    text.network = error.status === 0;
    this.fail(text);
  }

  async upload(files) {
    const productId = this.productId;
    if (!productId || this.busy) return;
    this.fail(null);
    const room = MAX_PHOTOS - this.current.length;
    const taken = files.slice(0, Math.max(0, room));
    const refused = [];
    this.busy = true;
    this.render();
    for (const [index, file] of taken.entries()) {
      this.say(() => t('photos.uploading', { n: index + 1, total: taken.length }));
      const form = new FormData();
      form.append('file', file, file.name);
      form.append('alt', '');
      try {
        await this.orders(`/products/${encodeURIComponent(productId)}/photos`, { method: 'POST', body: form });
      } catch (error) {
        refused.push({ file: file.name, error });
      }
    }
    this.busy = false;
    $('#photo-files').value = '';
    const added = taken.length - refused.length;
    this.say(added ? () => t('photos.added', { count: added }) : null);
    if (refused.length) {
      const { file, error } = refused[refused.length - 1];
      this.failWith(error, refused.length > 1 ? refused.map((r) => r.file).join(', ') : file);
    } else if (files.length > taken.length) {
      this.fail(() => t('photos.too_many', { max: MAX_PHOTOS, count: files.length - taken.length }));
    }
    await this.load(productId);
  }

  /** Photo at `index` one place earlier (-1) or later (+1); `to` moves it there (a drop). */
  async move(index, step, to = index + step) {
    const productId = this.productId;
    const list = [...this.current];
    if (to < 0 || to >= list.length || to === index) return;
    const [photo] = list.splice(index, 1);
    list.splice(to, 0, photo);
    this.photos.set(productId, list); // at once: the answer confirms it
    this.focusAfter = { photoId: photo.id, what: step < 0 ? 'earlier' : 'later' };
    this.render();
    this.fail(null);
    try {
      const answer = await this.orders(`/products/${encodeURIComponent(productId)}/photos/order`, {
        method: 'PUT', body: { photo_ids: list.map((p) => p.id) },
      });
      const confirmed = listOf(answer);
      if (confirmed) this.photos.set(productId, confirmed);
      this.say(() => t('photos.moved', { n: to + 1 }));
    } catch (error) {
      this.failWith(error);
      await this.load(productId);
      return;
    }
    this.render();
    this.onChange();
  }

  async describe(photo, alt) {
    const productId = this.productId;
    this.fail(null);
    try {
      const answer = await this.orders(
        `/products/${encodeURIComponent(productId)}/photos/${encodeURIComponent(photo.id)}`,
        { method: 'PATCH', body: { alt } },
      );
      const confirmed = listOf(answer); // orders answers with the product's photos
      if (confirmed) this.photos.set(productId, confirmed);
      const list = this.photos.get(productId) || [];
      const at = list.findIndex((p) => p.id === photo.id);
      if (!confirmed && at !== -1) list[at] = answer?.id === photo.id ? answer : { ...list[at], alt };
      this.say(() => t('photos.described', { n: at + 1 }));
    } catch (error) {
      this.failWith(error);
    }
    this.focusAfter = { photoId: photo.id, what: 'alt' };
    this.render();
  }

  async remove(photo, index) {
    const productId = this.productId;
    this.fail(null);
    try {
      await this.orders(
        `/products/${encodeURIComponent(productId)}/photos/${encodeURIComponent(photo.id)}`,
        { method: 'DELETE' },
      );
      this.say(() => t('photos.deleted', { n: index + 1 }));
    } catch (error) {
      this.failWith(error);
    }
    const next = this.current[index + 1] || this.current[index - 1];
    this.focusAfter = next ? { photoId: next.id, what: 'delete' } : { what: 'files' };
    await this.load(productId);
  }

  render() {
    const select = $('#photos-product');
    select.replaceChildren(
      el('option', { value: '', text: this.products.length ? t('catalog.choose') : t('catalog.none') }),
      ...this.products.map((p) => el('option', { value: p.id, text: p.title })),
    );
    select.value = this.productId || '';
    const list = this.current;
    const chosen = Boolean(this.productId);
    show($('#photos-empty'), chosen && list.length === 0);
    const files = $('#photo-files');
    files.disabled = !chosen || this.busy || list.length >= MAX_PHOTOS;
    $('#photo-list').replaceChildren(...list.map((photo, index) => this.item(photo, index, list.length)));
    if (this.status) $('#photos-status').textContent = this.status();
    if (this.error) $('#photos-error').textContent = this.error();
    this.restoreFocus();
  }

  item(photo, index, count) {
    const n = index + 1;
    const altId = `photo-alt-${photo.id}`;
    const urlOf = (name) => (/^(https?:)?\//.test(name) ? name : productPhotoUrl(this.ordersUrl, name));
    const image = usable(photo)
      ? picture(photo, urlOf, { alt: photo.alt || t('photos.number', { n }), shown: '7rem', className: 'photo-thumb' })
      : el('span', { class: 'photo-thumb blank', text: t('photos.number', { n }) });
    image.draggable = false; // the photo's box is dragged, not the picture on its own
    const input = el('input', { id: altId, maxlength: 300, value: photo.alt || '', autocomplete: 'off' });
    const form = el('form', { class: 'photo-alt' },
      el('label', { for: altId, text: t('photos.alt_label', { n }) }),
      el('div', { class: 'row' }, input,
        el('button', { type: 'submit', 'aria-label': t('photos.save_alt_label', { n }), text: t('photos.save_alt') })));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.describe(photo, input.value.trim());
    });
    const button = (what, text, label, onclick, disabled = false, className = '') => el('button', {
      type: 'button', class: className, 'aria-label': label, disabled, dataset: { what }, onclick,
    }, el('span', { 'aria-hidden': 'true', text }));
    const item = el('li', { class: 'photo', draggable: 'true', dataset: { photoId: photo.id } },
      el('div', { class: 'photo-figure' },
        image,
        el('span', { class: 'photo-n', 'aria-hidden': 'true', text: index === 0 ? t('photos.card') : String(n) })),
      form,
      el('div', { class: 'photo-tools' },
        button('earlier', '←', t('photos.earlier', { n }), () => this.move(index, -1), index === 0),
        button('later', '→', t('photos.later', { n }), () => this.move(index, 1), index === count - 1),
        button('delete', t('photos.delete'), t('photos.delete_label', { n }), () => this.remove(photo, index), false, 'danger')));
    // Dragging a photo onto another puts it in that place (the buttons do the same).
    item.addEventListener('dragstart', (event) => {
      if (event.target !== item) return;
      this.dragged = index;
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('text/plain', String(index));
      item.classList.add('dragging');
    });
    item.addEventListener('dragend', () => item.classList.remove('dragging'));
    item.addEventListener('dragover', (event) => {
      if (this.dragged === null) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'move';
    });
    item.addEventListener('drop', (event) => {
      if (this.dragged === null) return;
      event.preventDefault();
      const from = this.dragged;
      this.dragged = null;
      this.move(from, index < from ? -1 : 1, index);
    });
    return item;
  }

  restoreFocus() {
    const wanted = this.focusAfter;
    if (!wanted) return;
    this.focusAfter = null;
    if (wanted.what === 'files') {
      $('#photo-files').focus();
      return;
    }
    const item = document.querySelector(`#photo-list li[data-photo-id="${CSS.escape(wanted.photoId)}"]`);
    if (!item) return;
    const target = wanted.what === 'alt'
      ? item.querySelector('input')
      : item.querySelector(`button[data-what="${wanted.what}"]:not(:disabled)`) || item.querySelector('button:not(:disabled)');
    target?.focus();
  }
}
