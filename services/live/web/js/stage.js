// The viewer page's video stage: what the room streams (GET /rooms/{id}/playback, then the
// websocket's `stream` frames), the player, and what the viewer sees of it: offline ("the
// host's video starts soon"), starting, live, reconnecting (the last picture stays), ended
// (a link to the replay). A debug corner (?debug=1, or the ⓘ button) shows the measured
// latency, buffer and bitrate; window.qunlivePlayer exposes them to tests and the benchmark.
import { $, api, show } from './common.js';
import { t } from './i18n.js';
import { MAX_DELAY_S } from './delay-line.js';
import { Player } from './player.js';

const STATS_EVERY_MS = 1000;

export class Stage {
  /** onChange(stage) after every change of what is shown (the page keeps its cards in step). */
  constructor({ roomId, onChange = () => {} }) {
    this.roomId = roomId;
    this.onChange = onChange;
    this.playback = null; // the latest Playback (GET or `stream` frame)
    this.known = false; // the room said how it streams (an older server has no playback route)
    this.node = $('#stage');
    this.video = $('#video');
    this.player = new Player({
      video: this.video,
      frame: $('#stage-frame'),
      live: true,
      onChange: () => this.render(),
    });
    this.statsTimer = null;
    $('#unmute').addEventListener('click', () => this.player.unmute());
    $('#tap-play').addEventListener('click', () => this.player.resume());
    $('#debug-toggle').addEventListener('click', () => this.toggleDebug());
    this.video.addEventListener('resize', () => this.fitAspect());
    this.video.addEventListener('loadedmetadata', () => this.fitAspect());
    if (new URLSearchParams(window.location.search).get('debug') === '1') this.toggleDebug(true);
    // For tests and the benchmark: `({...window.qunlivePlayer})` reads the three figures
    // (the player itself and stats() are there too, not enumerable: it stays plain data).
    window.qunlivePlayer = Object.defineProperties({}, {
      latencyS: { enumerable: true, get: () => this.player.latencyS },
      state: { enumerable: true, get: () => this.state },
      inStepS: { enumerable: true, get: () => this.inStepS },
      stats: { value: () => ({ ...this.player.stats(), state: this.state, inStepS: this.inStepS }) },
      player: { value: this.player },
    });
  }

  /** Ask the room how it streams (at load, and after each reconnect of the socket). */
  async refresh() {
    try {
      this.apply(await api('', `/rooms/${encodeURIComponent(this.roomId)}/playback`));
    } catch {
      // No playback route (an older live) or offline for a moment: the frames will tell.
    }
  }

  /** The room's `stream` frame: the Playback's fields but the replay's link. When the show
   * ended, the link is read (if anything was recorded, it is there). */
  frame(frame) {
    const { type, ...fields } = frame;
    this.apply({ replay_url: this.playback?.replay_url ?? null, ...fields });
    if (fields.state === 'ended' && !this.playback.replay_url) this.refresh();
  }

  /** A Playback from GET /rooms/{id}/playback (or a frame made one). */
  apply(playback) {
    const before = this.playback?.state;
    this.playback = playback;
    this.known = true;
    const source = {
      source: playback.source,
      url: playback.url ? new URL(playback.url, window.location.href).toString() : null,
      youtube_video_id: playback.youtube_video_id || null,
    };
    if (playback.state === 'live' || playback.state === 'reconnecting') {
      const newTake = playback.state === 'live' && before && before !== 'live';
      if (newTake && this.player.status !== 'playing') this.player.play(source, { restart: true });
      else this.player.play(source);
    } else {
      this.player.stop();
    }
    this.render();
  }

  /** The room ended (its `room` frame, or the close): the stream has too. */
  roomEnded() {
    if (this.playback?.state === 'ended') return;
    this.frame({ ...(this.playback || { source: 'encoder', url: null }), state: 'ended' });
  }

  /** What the viewer sees: offline | starting | live | reconnecting | ended. */
  get state() {
    const server = this.playback?.state || 'offline';
    if (server !== 'live') return server;
    const { status } = this.player;
    if (status === 'playing') return 'live';
    if (status === 'loading' && this.player.attempt === 0) return 'starting';
    return 'reconnecting';
  }

  /** How late the pin and offer cards are shown: the latency while a live video plays. */
  get inStepS() {
    if (this.state !== 'live' || this.player.engine === 'youtube' || this.video.paused) return 0;
    const latency = this.player.latencyS;
    return latency !== null && latency > 0 ? latency : 0;
  }

  render() {
    if (!this.known) return;
    const state = this.state;
    const node = this.node;
    show(node);
    node.dataset.state = state;
    const messages = {
      offline: 'video.offline', starting: 'video.starting', reconnecting: 'video.reconnecting', ended: 'video.ended',
    };
    $('#stage-message').textContent = messages[state] ? t(messages[state]) : '';
    const replay = $('#replay-link');
    replay.href = `/r/${encodeURIComponent(this.roomId)}/replay`;
    show(replay, state === 'ended' && Boolean(this.playback?.replay_url));
    show($('#stage-badge'), state === 'live');
    const playing = ['live', 'reconnecting'].includes(state) && this.player.engine !== null;
    show($('#tap-play'), playing && this.player.blocked);
    show($('#unmute'), playing && this.player.muted && !this.player.blocked);
    this.renderStats();
    this.onChange(this);
  }

  fitAspect() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (w && h) this.node.style.setProperty('--aspect', `${w} / ${h}`);
  }

  toggleDebug(open = $('#debug').hidden) {
    show($('#debug'), open);
    $('#debug-toggle').setAttribute('aria-expanded', String(open));
    clearInterval(this.statsTimer);
    if (open) this.statsTimer = setInterval(() => this.renderStats(), STATS_EVERY_MS);
    this.renderStats();
  }

  renderStats() {
    if ($('#debug').hidden) return;
    const stats = this.player.stats();
    const dash = '—';
    const seconds = (value) => (value === null || value === undefined ? dash : t('video.seconds', { value: value.toFixed(2) }));
    $('#debug-latency').textContent = seconds(stats.latencyS);
    $('#debug-buffer').textContent = stats.engine && stats.engine !== 'youtube' ? seconds(stats.bufferS) : dash;
    $('#debug-bitrate').textContent = stats.bitrateKbps === null ? dash : t('video.kbps', { value: stats.bitrateKbps });
    $('#debug-resolution').textContent = stats.width ? `${stats.width}×${stats.height}` : dash;
    $('#debug-engine').textContent = stats.engine || dash;
    $('#debug-delay').textContent = seconds(Math.min(this.inStepS, MAX_DELAY_S));
  }
}
