// "Post to the room", on the console and on the viewer page (where the room's rules let the
// viewer): a photo (with its caption and description), a voice clip (recorded here, up to
// 60 s, or a file), a link (shown as a link, never fetched) or a product card ("look at this
// one"). A photo or a clip is uploaded to live (POST /rooms/{id}/posts, multipart, with the
// token the page's socket joined with); a link or a product card is a websocket frame. The
// line then comes back in the chat. Both pages hold a `#post-composer` the form is put in.
import { $, el, money, newRef, show } from './common.js';
import { t, translatePage } from './i18n.js';
import { duration, safeUrl } from './media.js';

export const MAX_VOICE_S = 60;
const RECORDING_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'];

function extensionOf(type) {
  if (type.includes('ogg')) return 'ogg';
  if (type.includes('mp4') || type.includes('aac')) return 'm4a';
  if (type.includes('mpeg')) return 'mp3';
  if (type.includes('wav')) return 'wav';
  return 'webm';
}

// The form, the same on both pages (static markup: nothing in it comes from a user).
const MARKUP = `
<fieldset class="post-kinds">
  <legend data-i18n="post.kind">What to post</legend>
  <label class="check"><input type="radio" name="post-kind" value="image" checked> <span data-i18n="post.kind_image">Photo</span></label>
  <label class="check"><input type="radio" name="post-kind" value="voice"> <span data-i18n="post.kind_voice">Voice clip</span></label>
  <label class="check"><input type="radio" name="post-kind" value="link"> <span data-i18n="post.kind_link">Link</span></label>
  <label class="check"><input type="radio" name="post-kind" value="product"> <span data-i18n="post.kind_product">Product card</span></label>
</fieldset>
<form id="post-form" class="post-form" data-kind="image" novalidate>
  <div class="only-image">
    <label for="post-image" data-i18n="post.image">Photo to post</label>
    <input id="post-image" type="file" accept="image/*">
    <img id="post-image-preview" class="post-preview" alt="" hidden>
    <label for="post-alt" data-i18n="post.alt">Description (for people who cannot see it)</label>
    <input id="post-alt" maxlength="300">
  </div>
  <div class="only-voice">
    <div class="recorder">
      <button id="record" type="button" data-i18n="post.record">● Record</button>
      <button id="record-stop" type="button" class="danger" hidden data-i18n="post.stop">■ Stop</button>
      <span id="record-time" class="record-time" role="timer" aria-label="Recording time"
            data-i18n-aria-label="post.record_time">0:00 / 1:00</span>
    </div>
    <audio id="post-voice-preview" controls preload="metadata" hidden></audio>
    <label for="post-voice" data-i18n="post.voice_file">Or choose an audio file</label>
    <input id="post-voice" type="file" accept="audio/*" aria-describedby="post-voice-hint">
    <p id="post-voice-hint" class="hint" data-i18n="post.voice_hint">Up to 60 seconds.</p>
  </div>
  <div class="only-link">
    <label for="post-url" data-i18n="post.url">Link (https://…)</label>
    <input id="post-url" type="url" inputmode="url" maxlength="2000" spellcheck="false" autocomplete="off">
  </div>
  <div class="only-product">
    <label for="post-offer" data-i18n="post.offer">Offer</label>
    <select id="post-offer"></select>
  </div>
  <label for="post-text" data-i18n="post.text">Caption (optional)</label>
  <textarea id="post-text" rows="2" maxlength="2000"></textarea>
  <button id="post-submit" type="submit" class="primary" data-i18n="post.send">Post</button>
</form>
<p id="post-status" class="status" role="status" aria-live="polite"></p>
<p id="post-error" class="error" role="alert"></p>`;

export class PostComposer {
  /**
   * live(path, options): a call to live; roomToken(): the bearer for the room's own calls;
   * send(frame): on the page's socket (false when it is not open); offers(): the offers a
   * card may show ({id, title, price_cents}); onPosted(kind): after a post went (optional).
   */
  constructor({ live, roomToken, send, offers, onPosted = null }) {
    const slot = $('#post-composer');
    slot.innerHTML = MARKUP;
    translatePage(slot);
    this.live = live;
    this.roomToken = roomToken;
    this.send = send;
    this.offers = offers;
    this.onPosted = onPosted;
    this.roomId = null;
    this.clip = null; // {blob, seconds, name}: the recording
    this.recorder = null;
    this.startedAt = 0;
    this.timer = null;
    this.previewUrl = null;
    this.voiceUrl = null;
    this.status = null; // () => text
    this.error = null;
    this.busy = false;
    for (const radio of document.querySelectorAll('input[name="post-kind"]')) {
      radio.addEventListener('change', () => this.kindChanged());
    }
    $('#post-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.post();
    });
    $('#post-image').addEventListener('change', () => this.imageChosen());
    $('#post-voice').addEventListener('change', () => this.voiceChosen());
    $('#record').addEventListener('click', () => this.record());
    $('#record-stop').addEventListener('click', () => this.stopRecording());
    this.kindChanged();
  }

  get kind() {
    return document.querySelector('input[name="post-kind"]:checked')?.value || 'image';
  }

  open(roomId) {
    this.roomId = roomId;
    this.reset();
    this.render();
  }

  close() {
    this.stopRecording(true);
    this.roomId = null;
    this.reset();
  }

  reset() {
    $('#post-image').value = '';
    $('#post-voice').value = '';
    $('#post-alt').value = '';
    $('#post-url').value = '';
    $('#post-text').value = '';
    this.clip = null;
    this.setPreview('#post-image-preview', 'previewUrl', null);
    this.setPreview('#post-voice-preview', 'voiceUrl', null);
    this.say(null);
    this.fail(null);
    this.showTime(0);
  }

  /** Offer only the kinds the poster may post now (the viewer page: the room's rules and
   * their role); the kind chosen moves to one allowed if it no longer is. */
  allow({ media = true, links = true } = {}) {
    const radios = [...document.querySelectorAll('input[name="post-kind"]')];
    for (const radio of radios) {
      const allowed = radio.value === 'link' ? links : media;
      radio.disabled = !allowed;
      show(radio.closest('label'), allowed);
    }
    const chosen = radios.find((radio) => radio.checked);
    if (chosen && !chosen.disabled) return;
    const first = radios.find((radio) => !radio.disabled);
    if (!first) return;
    if (this.recorder) this.stopRecording(true);
    first.checked = true;
    this.kindChanged();
  }

  kindChanged() {
    $('#post-form').dataset.kind = this.kind;
    this.fail(null);
    this.say(null);
  }

  say(status) {
    this.status = status;
    $('#post-status').textContent = status ? status() : '';
  }

  fail(error) {
    this.error = error;
    $('#post-error').textContent = error ? error() : '';
  }

  render() {
    this.renderOffers(true);
    if (this.status) $('#post-status').textContent = this.status();
    if (this.error) $('#post-error').textContent = this.error();
    if (!this.recorder) this.showTime(this.clip ? this.clip.seconds : 0);
  }

  /** The offers a product card can show (redrawn only when they changed: the lineup is
   * read every 2 s, and an open drop-down must stay open). */
  renderOffers(force = false) {
    const select = $('#post-offer');
    const chosen = select.value;
    const offers = this.offers();
    const drawn = JSON.stringify(offers.map((o) => [o.id, o.title, o.current_price_cents]));
    if (!force && drawn === this.drawn) return;
    this.drawn = drawn;
    select.replaceChildren(
      el('option', { value: '', text: offers.length ? t('post.choose_offer') : t('post.no_offers') }),
      ...offers.map((offer) => el('option', {
        value: offer.id, text: `${offer.title} · ${money(offer.current_price_cents ?? offer.price_cents)}`,
      })),
    );
    select.value = offers.some((o) => o.id === chosen) ? chosen : '';
  }

  /** A preview of what was picked or recorded (a blob: URL, revoked when replaced). */
  setPreview(selector, key, blob) {
    if (this[key]) URL.revokeObjectURL(this[key]);
    this[key] = blob ? URL.createObjectURL(blob) : null;
    const node = $(selector);
    if (this[key]) node.src = this[key];
    else node.removeAttribute('src');
    show(node, Boolean(this[key]));
  }

  imageChosen() {
    const file = $('#post-image').files[0];
    this.fail(null);
    this.setPreview('#post-image-preview', 'previewUrl', file && file.type.startsWith('image/') ? file : null);
  }

  voiceChosen() {
    const file = $('#post-voice').files[0];
    this.fail(null);
    if (file) this.clip = null; // a file replaces the recording
    this.setPreview('#post-voice-preview', 'voiceUrl', file || null);
    this.showTime(0);
  }

  showTime(seconds) {
    $('#record-time').textContent = `${duration(seconds)} / ${duration(MAX_VOICE_S)}`;
  }

  // ---- recording ----------------------------------------------------------------------

  async record() {
    if (this.recorder) return;
    this.fail(null);
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
      this.fail(() => t('post.no_recorder'));
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.fail(() => t('post.no_microphone'));
      return;
    }
    const type = RECORDING_TYPES.find((candidate) => MediaRecorder.isTypeSupported(candidate)) || '';
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks = [];
    recorder.addEventListener('dataavailable', (event) => {
      if (event.data.size) chunks.push(event.data);
    });
    recorder.addEventListener('stop', () => {
      for (const track of stream.getTracks()) track.stop();
      clearInterval(this.timer);
      const seconds = Math.min(MAX_VOICE_S, (performance.now() - this.startedAt) / 1000);
      const mime = (recorder.mimeType || type || 'audio/webm').split(';')[0];
      this.recorder = null;
      this.toggleRecording(false);
      if (recorder.discarded || !chunks.length) return;
      const blob = new Blob(chunks, { type: mime });
      this.clip = { blob, seconds, name: `voice.${extensionOf(mime)}` };
      $('#post-voice').value = ''; // the recording replaces a file picked before
      this.setPreview('#post-voice-preview', 'voiceUrl', blob);
      this.showTime(seconds);
      this.say(() => t('post.recorded', { duration: duration(seconds) }));
    });
    this.recorder = recorder;
    this.clip = null;
    this.setPreview('#post-voice-preview', 'voiceUrl', null);
    this.startedAt = performance.now();
    recorder.start(250);
    this.toggleRecording(true);
    this.say(() => t('post.recording', { max: duration(MAX_VOICE_S) }));
    this.timer = setInterval(() => {
      const seconds = (performance.now() - this.startedAt) / 1000;
      this.showTime(Math.min(seconds, MAX_VOICE_S));
      if (seconds >= MAX_VOICE_S) this.stopRecording(); // the limit: what was said is kept
    }, 200);
  }

  stopRecording(discard = false) {
    const recorder = this.recorder;
    if (!recorder) return;
    recorder.discarded = discard;
    if (recorder.state !== 'inactive') recorder.stop();
  }

  toggleRecording(on) {
    show($('#record'), !on);
    show($('#record-stop'), on);
    $('#record-time').classList.toggle('on', on);
    $('#post-submit').disabled = on;
    if (on) $('#record-stop').focus();
    else if (document.activeElement === $('#record-stop') || document.activeElement === document.body) $('#record').focus();
  }

  // ---- posting ------------------------------------------------------------------------

  async post() {
    if (!this.roomId || this.busy) return;
    this.fail(null);
    this.say(null);
    const text = $('#post-text').value.trim();
    const kind = this.kind;
    if (kind === 'link' || kind === 'product') {
      this.sendFrame(kind, text);
      return;
    }
    const form = new FormData();
    if (kind === 'image') {
      const file = $('#post-image').files[0];
      if (!file) {
        this.fail(() => t('post.choose_image'));
        $('#post-image').focus();
        return;
      }
      form.append('file', file, file.name);
      form.append('alt', $('#post-alt').value.trim());
    } else {
      const file = $('#post-voice').files[0];
      if (!this.clip && !file) {
        this.fail(() => t('post.choose_voice'));
        $('#record').focus();
        return;
      }
      if (this.clip) form.append('file', this.clip.blob, this.clip.name);
      else form.append('file', file, file.name);
    }
    form.append('kind', kind);
    form.append('text', text);
    this.busy = true;
    $('#post-submit').disabled = true;
    this.say(() => t('post.posting'));
    try {
      const token = await this.roomToken();
      await this.live(`/rooms/${encodeURIComponent(this.roomId)}/posts`, { method: 'POST', body: form, token });
      const posted = kind;
      this.reset();
      this.say(() => t(posted === 'image' ? 'post.posted_image' : 'post.posted_voice'));
      this.onPosted?.(posted);
    } catch (error) {
      this.say(null);
      const detail = error.status === 0 ? t('err.network') : error.detail || error.message;
      this.fail(() => t('post.refused', { detail }));
    } finally {
      this.busy = false;
      $('#post-submit').disabled = Boolean(this.recorder);
    }
  }

  sendFrame(kind, text) {
    const ref = newRef('p');
    let frame;
    if (kind === 'link') {
      const url = safeUrl($('#post-url').value.trim());
      if (!url) {
        this.fail(() => t('post.bad_url'));
        $('#post-url').focus();
        return;
      }
      frame = { type: 'link', url: url.href, text, ref };
    } else {
      const offerId = $('#post-offer').value;
      if (!offerId) {
        this.fail(() => t('post.choose_offer_first'));
        $('#post-offer').focus();
        return;
      }
      frame = { type: 'product', offer_id: offerId, text, ref };
    }
    if (!this.send(frame)) {
      this.fail(() => t('conn.offline'));
      return;
    }
    $('#post-url').value = '';
    $('#post-text').value = '';
    this.say(() => t('post.sent'));
    this.onPosted?.(kind);
  }

  /** The room refused a link or product frame (its ref starts with p). */
  refused(frame) {
    this.say(null);
    this.fail(() => t('post.refused', { detail: refusalDetail(frame) }));
  }
}

/** Why the room refused a post frame, in the page's language (its own words otherwise). */
export function refusalDetail(frame) {
  const key = `err.${frame.code}`;
  const text = t(key, { message: frame.message });
  return text === key ? frame.message : text;
}
