// Pictures, voice clips, links and product cards, as both pages show them.
//
// Stored things travel by name (`<sha256>.<ext>`, shared/events/media.py): a product
// photo's sizes are on orders (`{orders_url}/photos/{name}`), a room's picture or voice
// clip on live (`/rooms/{room_id}/media/{name}`). A link is shown as a link and never
// fetched. Every field may be missing (an older server): nothing here throws on it.
import { el, money } from './common.js';
import { t } from './i18n.js';

// Long side of each stored size in pixels, never enlarged (shared/images.py SIZES).
const LONG_SIDE = { thumb: 240, card: 720, full: 1600 };
const OBJECT_NAME = /^[0-9a-f]{64}\.[a-z0-9]{2,5}$/;

export function productPhotoUrl(ordersUrl, name) {
  return `${ordersUrl || ''}/photos/${encodeURIComponent(name)}`;
}

export function roomMediaUrl(roomId, name) {
  return `/rooms/${encodeURIComponent(roomId)}/media/${encodeURIComponent(name)}`;
}

/** An ImageSizes the page can show: three object names (width and height may be missing). */
export function usable(sizes) {
  return Boolean(sizes && ['thumb', 'card', 'full'].every((size) => OBJECT_NAME.test(sizes[size] || '')));
}

/** Width and height of one stored size (the picture's own, scaled down to its long side). */
function dimensions(sizes, size) {
  const width = Number(sizes.width) || 0;
  const height = Number(sizes.height) || 0;
  if (!width || !height) return null;
  const scale = Math.min(1, LONG_SIDE[size] / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * An <img> of a stored picture: `thumb` and `card` offered by width (srcset), so the
 * browser takes the thumb where the picture is small and the card where it is not; its
 * width and height set, so the page does not jump when it loads.
 */
export function picture(sizes, urlOf, { alt = '', shown = '100vw', lazy = true, className = '' } = {}) {
  const thumb = dimensions(sizes, 'thumb');
  const card = dimensions(sizes, 'card');
  const attrs = {
    class: className || undefined,
    src: urlOf(sizes.card),
    alt,
    loading: lazy ? 'lazy' : undefined,
    decoding: 'async',
  };
  if (thumb && card) {
    attrs.srcset = `${urlOf(sizes.thumb)} ${thumb.width}w, ${urlOf(sizes.card)} ${card.width}w`;
    attrs.sizes = shown;
    attrs.width = card.width;
    attrs.height = card.height;
  }
  return el('img', attrs);
}

/** "0:07", "1:00" */
export function duration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** A link's URL if it is http(s), else null (it is then shown as text). */
export function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** What a link shows: the host and the path (no scheme, no query, no fragment). */
export function linkLabel(url) {
  const path = url.pathname === '/' ? '' : url.pathname;
  try {
    return url.host + decodeURI(path);
  } catch {
    return url.host + path;
  }
}

// ---- the full-size viewer ---------------------------------------------------------------

/**
 * Photos full screen: a modal <dialog> (focus stays in it, Escape closes it), the arrow
 * keys and a swipe go to the next and previous photo, and focus goes back where it was.
 */
export class PhotoViewer {
  constructor() {
    this.photos = []; // [{src, alt}]
    this.at = 0;
    this.opener = null;
    this.image = el('img', { class: 'pv-image', alt: '', draggable: 'false' }); // a swipe, not a drag
    this.caption = el('p', { class: 'pv-caption' });
    this.count = el('p', { class: 'pv-count', 'aria-live': 'polite' });
    this.previous = el('button', { type: 'button', class: 'pv-nav pv-prev', onclick: () => this.go(-1) },
      el('span', { 'aria-hidden': 'true', text: '‹' }));
    this.next = el('button', { type: 'button', class: 'pv-nav pv-next', onclick: () => this.go(1) },
      el('span', { 'aria-hidden': 'true', text: '›' }));
    this.closeButton = el('button', { type: 'button', class: 'pv-close', onclick: () => this.close() },
      el('span', { 'aria-hidden': 'true', text: '✕' }));
    this.frame = el('figure', { class: 'pv-frame' }, this.image, this.caption);
    this.dialog = el('dialog', { class: 'photo-viewer' },
      el('div', { class: 'pv-top' }, this.count, this.closeButton),
      this.frame, this.previous, this.next);
    this.dialog.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowRight') this.go(1);
      else if (event.key === 'ArrowLeft') this.go(-1);
      else return;
      event.preventDefault();
    });
    this.dialog.addEventListener('close', () => {
      this.image.removeAttribute('src');
      const opener = this.opener;
      this.opener = null;
      if (opener?.isConnected) opener.focus();
    });
    // A tap on the dark backdrop (outside the picture and the buttons) closes it too.
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog) this.close();
    });
    let startX = null;
    this.frame.addEventListener('pointerdown', (event) => {
      startX = event.clientX;
    });
    this.frame.addEventListener('pointerup', (event) => {
      if (startX === null) return;
      const moved = event.clientX - startX;
      startX = null;
      if (Math.abs(moved) > 40) this.go(moved < 0 ? 1 : -1);
    });
    this.frame.addEventListener('pointercancel', () => {
      startX = null;
    });
    document.body.append(this.dialog);
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Show `photos` ([{src, alt}]) from number `at`; `opener` gets the focus back. */
  open(photos, at = 0, opener = document.activeElement) {
    if (!photos.length) return;
    this.photos = photos;
    this.at = Math.min(Math.max(at, 0), photos.length - 1);
    this.opener = opener;
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
    this.closeButton.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** Close it if it shows a picture `src` names (a deleted message's). */
  forget(matches) {
    if (this.dialog.open && this.photos.some((photo) => matches(photo.src))) this.close();
  }

  go(step) {
    if (this.photos.length < 2) return;
    this.at = (this.at + step + this.photos.length) % this.photos.length;
    this.render();
  }

  render() {
    const photo = this.photos[this.at];
    if (!photo) return;
    this.dialog.setAttribute('aria-label', t('media.viewer'));
    this.image.src = photo.src;
    this.image.alt = photo.alt || '';
    if (photo.width && photo.height) {
      this.image.width = photo.width;
      this.image.height = photo.height;
    } else {
      this.image.removeAttribute('width');
      this.image.removeAttribute('height');
    }
    this.caption.textContent = photo.alt || '';
    const several = this.photos.length > 1;
    this.count.textContent = several ? t('media.count', { n: this.at + 1, total: this.photos.length }) : '';
    this.previous.hidden = !several;
    this.next.hidden = !several;
    this.previous.setAttribute('aria-label', t('media.previous'));
    this.next.setAttribute('aria-label', t('media.next'));
    this.closeButton.setAttribute('aria-label', t('media.close'));
  }
}

/** The full-size entries of a list of ImageSizes, for PhotoViewer.open(). */
export function fullSizes(list, urlOf, fallbackAlt = '') {
  return list.filter(usable).map((sizes) => ({
    src: urlOf(sizes.full),
    alt: sizes.alt || fallbackAlt,
    ...(dimensions(sizes, 'full') || {}),
  }));
}

// ---- voice clips ------------------------------------------------------------------------

let playing = null; // the one <audio> that plays: starting another pauses it

/** A play button with the clip's duration; the clip loads only when played. */
export function voicePlayer(voice, src) {
  const length = duration(voice.duration_s);
  const audio = el('audio', { preload: 'none', src });
  // The button is named by what it shows (what it does, said to screen readers only, and
  // the clip's length, or how far it has played: "0:04 / 0:12").
  const action = el('span', { class: 'sr-only' });
  const time = el('span', { class: 'voice-time', text: length });
  const icon = el('span', { class: 'voice-icon', 'aria-hidden': 'true', text: '▶' });
  const bar = el('span', { class: 'voice-bar', 'aria-hidden': 'true' }, el('span', { class: 'voice-fill' }));
  const button = el('button', { type: 'button', class: 'voice-play' }, icon, action, bar, time);
  const problem = el('span', { class: 'voice-error', role: 'status' });
  const label = () => {
    const paused = audio.paused || audio.ended;
    action.textContent = `${t(paused ? 'media.voice_play' : 'media.voice_pause')} `;
    icon.textContent = paused ? '▶' : '❚❚';
    button.classList.toggle('playing', !paused);
  };
  const progress = () => {
    const total = Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : Number(voice.duration_s) || 0;
    bar.firstChild.style.width = total ? `${Math.min(100, (100 * audio.currentTime) / total)}%` : '0';
    time.textContent = audio.currentTime > 0 && !audio.ended ? `${duration(audio.currentTime)} / ${length}` : length;
  };
  button.addEventListener('click', () => {
    if (audio.paused || audio.ended) {
      if (playing && playing !== audio) playing.pause();
      playing = audio;
      problem.textContent = '';
      audio.play().catch((error) => {
        if (error?.name !== 'AbortError') problem.textContent = t('media.voice_failed');
        label();
      });
    } else {
      audio.pause();
    }
  });
  for (const name of ['play', 'pause', 'ended']) audio.addEventListener(name, label);
  audio.addEventListener('timeupdate', progress);
  audio.addEventListener('ended', () => {
    audio.currentTime = 0;
    progress();
  });
  audio.addEventListener('error', () => {
    problem.textContent = t('media.voice_failed');
    label();
  });
  label();
  return el('span', { class: 'voice' }, button, audio, problem);
}

/** Stop whatever voice clip plays inside `root` (a line deleted, a page hidden). */
export function silence(root) {
  for (const audio of root.querySelectorAll('audio')) audio.pause();
}

// ---- a chat line's attachment -----------------------------------------------------------

/**
 * What a chat line carries besides its text, as a node (null when nothing or not known).
 * ctx: {roomId, ordersUrl, viewer: PhotoViewer, onProduct(attachment, button)}
 */
export function attachmentNode(line, ctx) {
  const attachment = line.attachment;
  if (!attachment || typeof attachment !== 'object') return null;
  const roomUrl = (name) => roomMediaUrl(ctx.roomId, name);
  switch (attachment.kind) {
    case 'image': {
      const sizes = attachment.image;
      if (!usable(sizes)) return null;
      const alt = sizes.alt || t('media.photo_from', { who: line.name || t('common.someone') });
      const button = el('button', {
        type: 'button', class: 'att-image', 'aria-label': t('media.open_photo', { alt }),
      }, picture(sizes, roomUrl, { alt, shown: '(min-width: 900px) 12rem, 10rem' }));
      button.addEventListener('click', () => ctx.viewer.open(fullSizes([sizes], roomUrl, alt), 0, button));
      return el('div', { class: 'attachment' }, button);
    }
    case 'voice':
      if (!OBJECT_NAME.test(attachment.object || '')) return null;
      return el('div', { class: 'attachment' }, voicePlayer(attachment, roomUrl(attachment.object)));
    case 'link': {
      const url = safeUrl(attachment.url);
      if (!url) return el('div', { class: 'attachment att-link-text', text: String(attachment.url || '') });
      return el('div', { class: 'attachment' },
        el('a', {
          class: 'att-link', href: url.href, target: '_blank', rel: 'noopener noreferrer nofollow ugc',
        },
        el('span', { class: 'att-link-label', text: linkLabel(url) }),
        el('span', { class: 'att-link-icon', 'aria-hidden': 'true', text: '↗' }),
        el('span', { class: 'sr-only', text: ` ${t('media.new_tab')}` })));
    }
    case 'product': {
      const photo = usable(attachment.photo)
        ? picture(attachment.photo, (name) => productPhotoUrl(ctx.ordersUrl, name), { alt: '', shown: '4rem' })
        : el('span', { class: 'att-product-blank', 'aria-hidden': 'true' });
      const button = el('button', { type: 'button', class: 'att-product', dataset: { offerId: attachment.offer_id || '' } },
        photo,
        el('span', { class: 'att-product-text' },
          el('span', { class: 'att-product-title', text: attachment.title || t('media.product') }),
          attachment.price_cents !== null && attachment.price_cents !== undefined
            ? el('span', { class: 'att-product-price', text: money(attachment.price_cents) })
            : null,
          el('span', { class: 'att-product-see', text: t('media.see_offer') })));
      if (ctx.onProduct) button.addEventListener('click', () => ctx.onProduct(attachment, button));
      else button.disabled = true;
      return el('div', { class: 'attachment' }, button);
    }
    case 'pending':
      return el('div', { class: 'attachment att-pending' },
        el('span', { class: 'spinner-dot', 'aria-hidden': 'true' }),
        t(attachment.media === 'voice' ? 'media.pending_voice' : 'media.pending_image'));
    case 'failed':
      return el('div', { class: 'attachment att-failed' },
        t(attachment.media === 'voice' ? 'media.failed_voice' : 'media.failed_image'));
    default:
      return null;
  }
}

/**
 * An `attached` frame: the line's pending attachment becomes what was fetched, or a
 * "could not be fetched" note (attachment null). Returns the line changed, or null.
 */
export function applyAttached(line, frame) {
  if (!line) return null;
  const was = line.attachment?.kind === 'pending' ? line.attachment.media : null;
  line.attachment = frame.attachment || { kind: 'failed', media: was || 'image', reason: frame.reason || '' };
  return line;
}

/** Whether a chat line with this attachment shows its words (a caption may be empty). */
export function hasText(line) {
  return Boolean(line.text && line.text.trim());
}
