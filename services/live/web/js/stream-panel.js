// The console's "Video stream" panel for the selected room: where to publish (the stream
// key hidden until asked for), rotating the key, choosing the source (own encoder, a hosted
// HLS link, a YouTube Live video), what the encoder actually sends (polled every 2 s while
// the panel is open) with its warnings, the recommended settings and a small preview.
import { $, ApiError, copyText, el, show } from './common.js';
import { t } from './i18n.js';
import { Player } from './player.js';

const POLL_EVERY_MS = 2000;
const KEYFRAME_WARN_S = 2; // over this, the keyframe interval sets the viewers' latency floor
const SOURCES = ['encoder', 'hls_url', 'youtube'];

export class StreamPanel {
  /** live(path, options): live's API with the console's credential. */
  constructor({ live }) {
    this.live = live;
    this.roomId = null;
    this.settings = null;
    this.error = null;
    this.revealed = new Set(); // which secret fields are shown (by id)
    this.timer = null;
    this.chosen = null; // the source radio the host picked, not yet saved
    this.player = new Player({
      video: $('#stream-preview'),
      live: true,
      onChange: () => this.renderPreview(),
    });
    $('#stream-panel').addEventListener('toggle', () => this.poll());
    document.addEventListener('visibilitychange', () => this.poll());
    $('#rotate-key').addEventListener('click', () => this.rotate());
    $('#stream-source-save').addEventListener('click', () => this.saveSource());
    for (const radio of document.querySelectorAll('input[name="stream-source"]')) {
      radio.addEventListener('change', () => {
        this.chosen = radio.value;
        this.renderSource();
      });
    }
  }

  open(roomId) {
    this.close();
    this.roomId = roomId;
    show($('#stream'));
    this.poll();
  }

  close() {
    clearTimeout(this.timer);
    this.timer = null;
    this.roomId = null;
    this.settings = null;
    this.error = null;
    this.chosen = null;
    this.revealed.clear();
    this.player.stop();
    $('#stream-url').value = '';
    $('#stream-status').textContent = '';
  }

  get watching() {
    return this.roomId !== null && $('#stream-panel').open && document.visibilityState !== 'hidden';
  }

  /** Poll GET /rooms/{id}/stream while the panel is open (and the tab is seen). */
  async poll() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.watching) {
      this.player.stop();
      return;
    }
    await this.refresh();
    if (this.watching && !this.timer) this.timer = setTimeout(() => this.poll(), POLL_EVERY_MS);
  }

  async refresh() {
    const roomId = this.roomId;
    try {
      const settings = await this.live(`/rooms/${encodeURIComponent(roomId)}/stream`);
      if (roomId !== this.roomId) return;
      this.settings = settings;
      this.error = null;
    } catch (error) {
      if (roomId !== this.roomId) return;
      if (error.status === 404) { // a live without video streams: no panel
        show($('#stream'), false);
        this.roomId = null;
        return;
      }
      this.error = error;
    }
    this.render();
  }

  /** The room's `stream` frame: the state changed, read the details now. */
  frame() {
    if (this.roomId) this.refresh();
  }

  async rotate() {
    if (!this.roomId || !window.confirm(t('stream.confirm_rotate'))) return;
    try {
      this.settings = await this.live(`/rooms/${encodeURIComponent(this.roomId)}/stream/key`, { method: 'POST' });
      this.error = null;
      this.revealed.clear();
      $('#stream-status').textContent = t('stream.rotated');
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  async saveSource() {
    if (!this.roomId) return;
    const source = this.chosen || this.settings?.source || 'encoder';
    let url = source === 'encoder' ? null : $('#stream-url').value.trim();
    if (source !== 'encoder' && !url) {
      this.error = new ApiError(422, t('stream.url_needed'));
      this.render();
      $('#stream-url').focus();
      return;
    }
    if (source === 'youtube' && /^[\w-]{11}$/.test(url)) url = `https://www.youtube.com/watch?v=${url}`;
    try {
      this.settings = await this.live(`/rooms/${encodeURIComponent(this.roomId)}/stream/source`, {
        method: 'PUT', body: { source, url },
      });
      this.error = null;
      this.chosen = null;
      $('#stream-status').textContent = t('stream.source_saved');
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  // ---- rendering ----------------------------------------------------------------------------

  render() {
    if (!this.roomId) return;
    const settings = this.settings;
    const badge = $('#stream-state');
    if (settings) {
      badge.textContent = t(`stream.state_${settings.state}`);
      badge.className = `badge stream-${settings.state}`;
    }
    show(badge, Boolean(settings));
    $('#stream-error').textContent = this.error ? errorText(this.error) : '';
    this.renderWarnings();
    this.renderSource();
    this.renderPublish();
    this.renderIncoming();
    this.renderRecommended();
    this.renderPreview();
  }

  renderWarnings() {
    const incoming = this.settings?.incoming;
    const warnings = [];
    const keyframes = incoming?.keyframe_interval_s;
    if (keyframes > KEYFRAME_WARN_S) warnings.push(t('stream.warn_keyframes', { seconds: keyframes.toFixed(1) }));
    for (const warning of this.settings?.warnings || []) {
      if (!(keyframes > KEYFRAME_WARN_S && /keyframe/i.test(warning))) warnings.push(warning); // said above, translated
    }
    $('#stream-warning-list').replaceChildren(...warnings.map((text) => el('li', { text: `⚠ ${text}` })));
    show($('#stream-warnings'), warnings.length > 0);
  }

  renderSource() {
    const source = this.chosen || this.settings?.source || 'encoder';
    for (const radio of document.querySelectorAll('input[name="stream-source"]')) radio.checked = radio.value === source;
    const hosted = source !== 'encoder';
    show($('#stream-url-row'), hosted);
    $('#stream-url-label').textContent = t(source === 'youtube' ? 'stream.url_youtube' : 'stream.url_hls');
    const input = $('#stream-url');
    if (hosted && !this.chosen && document.activeElement !== input) {
      const saved = source === 'youtube' && this.settings?.youtube_video_id
        ? `https://www.youtube.com/watch?v=${this.settings.youtube_video_id}`
        : this.settings?.hosted_url || '';
      if (saved) input.value = saved;
    }
    const ended = this.settings?.state === 'ended';
    for (const node of $('#stream-source').querySelectorAll('input, button')) node.disabled = ended;
  }

  renderPublish() {
    const publish = this.settings && this.settings.source === 'encoder' ? this.settings.publish || [] : [];
    const box = $('#stream-publish');
    // What the host is doing there (a revealed key, focus on a copy button) survives the poll.
    const focused = box.contains(document.activeElement) ? document.activeElement.id : null;
    box.replaceChildren(...publish.map((entry, index) => this.publishEntry(entry, index)));
    if (focused) document.getElementById(focused)?.focus();
    show($('#stream-no-key'), Boolean(this.settings) && this.settings.source === 'encoder' && publish.length === 0);
    $('#rotate-key').disabled = !this.settings || this.settings.source !== 'encoder' || this.settings.state === 'ended';
  }

  publishEntry(entry, index) {
    const protocol = String(entry.protocol || '').toUpperCase();
    const key = this.settings.key_version ? t('stream.key_version', { version: this.settings.key_version }) : '';
    return el('div', { class: 'publish', dataset: { protocol: entry.protocol } },
      el('h3', { text: t('stream.publish_heading', { protocol }) }),
      this.field(`pub-${index}-server`, t('stream.server'), entry.server, false),
      this.field(`pub-${index}-key`, t('stream.key'), entry.stream_key, true, key),
      this.field(`pub-${index}-url`, t('stream.full_url'), entry.url, true),
      entry.note ? el('p', { class: 'hint', text: entry.note }) : null);
  }

  /** A read-only field with Copy, and for a secret Show/Hide (hidden by default). */
  field(id, label, value, secret, hint = '') {
    if (!value) return null;
    const revealed = !secret || this.revealed.has(id);
    const input = el('input', {
      id, readonly: true, value, type: revealed ? 'text' : 'password', autocomplete: 'off', spellcheck: 'false',
      class: 'mono', 'aria-describedby': hint ? `${id}-hint` : undefined,
    });
    const row = el('div', { class: 'row' }, input);
    if (secret) {
      row.append(el('button', {
        id: `${id}-toggle`, type: 'button', 'aria-controls': id, 'aria-pressed': revealed ? 'true' : 'false',
        'aria-label': `${revealed ? t('stream.hide') : t('stream.show')}: ${label}`,
        text: revealed ? t('stream.hide') : t('stream.show'),
        onclick: () => {
          if (this.revealed.has(id)) this.revealed.delete(id);
          else this.revealed.add(id);
          this.renderPublish();
        },
      }));
    }
    row.append(el('button', {
      id: `${id}-copy`, type: 'button', 'aria-label': `${t('common.copy')}: ${label}`, text: t('common.copy'),
      onclick: async () => {
        const ok = await copySecret(value, input);
        $('#stream-status').textContent = ok ? t('stream.copied', { what: label }) : t('common.copy_failed');
      },
    }));
    return el('div', { class: 'field' },
      el('label', { for: id, text: label }),
      row,
      hint ? el('p', { id: `${id}-hint`, class: 'hint', text: hint }) : null);
  }

  renderIncoming() {
    const incoming = this.settings?.incoming || null;
    const dash = '—';
    const value = (v, format) => (v === null || v === undefined ? dash : format(v));
    $('#in-codec').textContent = incoming
      ? [incoming.video_codec, incoming.audio_codec].filter(Boolean).join(' + ') || dash
      : t('stream.nothing_incoming');
    $('#in-resolution').textContent = incoming?.width ? `${incoming.width}×${incoming.height}` : dash;
    $('#in-fps').textContent = value(incoming?.fps, (v) => t('stream.fps_value', { fps: Math.round(v * 100) / 100 }));
    $('#in-bitrate').textContent = value(incoming?.bitrate_kbps, (v) => t('stream.kbps', { kbps: Math.round(v) }));
    const keyframes = incoming?.keyframe_interval_s;
    const cell = $('#in-keyframes');
    cell.textContent = value(keyframes, (v) => t('stream.seconds', { seconds: v.toFixed(1) }));
    cell.classList.toggle('warn', keyframes > KEYFRAME_WARN_S);
  }

  renderRecommended() {
    const rec = this.settings?.recommended;
    if (!rec) return;
    $('#rec-codec').textContent = rec.video_codec || 'H.264';
    $('#rec-keyframes').textContent = t('stream.seconds', { seconds: rec.keyframe_interval_s ?? 1 });
    $('#rec-bitrate').textContent = t('stream.kbps', { kbps: rec.video_bitrate_kbps });
    $('#rec-resolution').textContent = String(rec.resolution || '').replace(/(\d)x(\d)/g, '$1×$2');
    $('#rec-fps').textContent = String(rec.fps ?? '');
    $('#rec-audio').textContent = rec.audio || '';
  }

  /** The room's playback, small and muted (a YouTube source: a link, the console frames nothing). */
  renderPreview() {
    const settings = this.settings;
    const message = $('#stream-preview-message');
    const video = $('#stream-preview');
    const on = settings && ['live', 'reconnecting'].includes(settings.state) && this.watching;
    if (on && settings.source === 'youtube' && settings.youtube_video_id) {
      this.player.stop();
      video.hidden = true;
      const link = el('a', {
        href: `https://www.youtube.com/watch?v=${encodeURIComponent(settings.youtube_video_id)}`,
        target: '_blank', rel: 'noopener', text: t('stream.preview_youtube'),
      });
      message.replaceChildren(link);
      return;
    }
    video.hidden = false;
    if (on && settings.playback_url) {
      this.player.play({ source: settings.source, url: new URL(settings.playback_url, window.location.href).toString() });
    } else if (this.player.status !== 'idle') {
      this.player.stop();
    }
    let state = settings ? settings.state : null;
    if (on) {
      const { status, attempt } = this.player;
      state = status === 'playing' ? 'live' : status === 'loading' && attempt === 0 ? 'starting' : 'reconnecting';
    }
    message.textContent = state && state !== 'live' ? t(`stream.preview_${state}`) : '';
  }
}

function errorText(error) {
  if (error.status === 0) return t('err.network');
  if (error.status === 401 || error.status === 403) return t('err.not_allowed', { detail: error.detail || '' });
  return error.message;
}

/** A password field cannot be copied from by selection: show it for the fallback. */
async function copySecret(value, input) {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    const type = input.type;
    input.type = 'text';
    const ok = await copyText(value, input);
    input.type = type;
    return ok;
  }
}
