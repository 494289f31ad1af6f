// The room's video in a <video> (HLS) or YouTube's embed, for the viewer page, the replay
// page and the console's preview. Safari plays HLS natively; elsewhere hls.js (vendored,
// loaded only when needed). It measures how far behind the encoder's clock the picture is
// (program-date-time), recovers from network and media errors with backoff, and keeps the
// last picture on screen while it does.

const HLS_MODULE = '/static/vendor/hls.js/hls.min.mjs';
const HLS_WORKER = '/static/vendor/hls.js/hls.worker.js';
const YOUTUBE_EMBED = 'https://www.youtube-nocookie.com/embed/';
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 4000; // a live show: look again every few seconds at most
const STALL_AFTER_MS = 3000; // no progress for this long while playing: waiting
const RESTART_AFTER_MS = 6000; // ... and for this long: start the source again
const BITRATE_WINDOW = 8; // fragments the measured bitrate is averaged over

// Live: close to the edge (1 s segments, 1 s keyframes), catching up by playing a little
// faster rather than jumping; after a stall hls.js moves back by liveSyncOnStallIncrease
// (1 s) on its own. VOD (the replay): hls.js' defaults.
const LIVE_CONFIG = {
  lowLatencyMode: true,
  liveSyncDuration: 1.5,
  liveMaxLatencyDuration: 8,
  maxLiveSyncPlaybackRate: 1.1,
  backBufferLength: 30,
  manifestLoadingMaxRetry: 2,
  levelLoadingMaxRetry: 4,
  fragLoadingMaxRetry: 4,
};

let hlsModule = null;
function loadHls() {
  hlsModule ??= import(HLS_MODULE).then((module) => module.default);
  return hlsModule;
}

/**
 * Safari (macOS, iOS) plays HLS itself, with its own low-latency tuning: use it there.
 * Chrome on Android also answers "maybe" but plays HLS poorly (no program-date-time, long
 * buffers), so elsewhere hls.js plays it whenever the browser has Media Source Extensions.
 */
export function nativeHls(video) {
  if (!video.canPlayType('application/vnd.apple.mpegurl')) return false;
  const mse = 'MediaSource' in window || 'ManagedMediaSource' in window;
  return !mse || /Apple/.test(navigator.vendor || '');
}

/**
 * player = new Player({video, frame, live, onChange});
 * player.play({source, url, youtube_video_id}) / player.stop();
 * player.status: idle | loading | playing | waiting | retrying; stats in player.stats().
 * onChange(player) after every status change.
 */
export class Player {
  constructor({ video, frame = null, live = true, onChange = () => {} }) {
    this.video = video;
    this.frame = frame; // where a YouTube iframe goes (a sibling of the video)
    this.live = live;
    this.onChange = onChange;
    this.status = 'idle';
    this.engine = null; // native | hls.js | youtube
    this.source = null;
    this.hls = null;
    this.iframe = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.lastProgress = { time: -1, at: 0 };
    this.fragments = [];
    this.blocked = false; // autoplay refused: the page offers a play button
    this.freeze = null; // a canvas holding the last picture while the source restarts
    video.addEventListener('playing', () => this.playing());
    video.addEventListener('waiting', () => {
      if (this.status === 'playing') this.set('waiting');
    });
    video.addEventListener('ended', () => this.endedEarly());
    video.addEventListener('error', () => this.failed());
    video.addEventListener('timeupdate', () => this.progress());
    video.addEventListener('volumechange', () => this.onChange(this));
    video.addEventListener('resize', () => this.onChange(this));
    this.watchdog = setInterval(() => this.checkProgress(), 1000);
  }

  /** Play `source` ({source, url, youtube_video_id}); same source again: nothing changes. */
  play(source, { restart = false } = {}) {
    const key = source?.youtube_video_id || source?.url || null;
    if (!key) {
      this.stop();
      return;
    }
    if (!restart && this.source && key === this.sourceKey && this.status !== 'idle') return;
    this.source = source;
    this.sourceKey = key;
    this.attempt = 0;
    this.start();
  }

  /** Start the current source afresh now (the encoder is back: a new take). */
  restart() {
    if (!this.source) return;
    this.attempt = 0;
    this.start();
  }

  stop() {
    clearTimeout(this.retryTimer);
    this.teardown(false);
    this.source = null;
    this.sourceKey = null;
    this.set('idle');
  }

  destroy() {
    this.stop();
    clearInterval(this.watchdog);
  }

  get muted() {
    return this.engine === 'youtube' ? this.youtubeMuted !== false : this.video.muted;
  }

  unmute() {
    if (this.engine === 'youtube') {
      this.youtube('unMute');
      this.youtube('playVideo');
      this.youtubeMuted = false;
    } else {
      this.video.muted = false;
      this.resume();
    }
    this.onChange(this);
  }

  /** After a tap (autoplay was refused, or the page was in the background). */
  resume() {
    const started = this.video.play();
    started?.then(() => {
      this.blocked = false;
      this.onChange(this);
    }).catch((error) => {
      if (error?.name === 'NotAllowedError') {
        this.blocked = true;
        this.onChange(this);
      }
    });
  }

  seek(seconds) {
    if (this.engine === 'youtube') return;
    this.video.currentTime = seconds;
    if (this.video.paused) this.resume();
  }

  // ---- measured ---------------------------------------------------------------------------

  /** Seconds between the encoder's clock at the picture shown and now (program-date-time). */
  get latencyS() {
    if (this.status !== 'playing' || !this.live) return null;
    let shown = null;
    if (this.hls) {
      shown = this.hls.playingDate?.getTime() ?? null;
    } else if (this.engine === 'native' && typeof this.video.getStartDate === 'function') {
      const start = this.video.getStartDate().getTime();
      if (Number.isFinite(start) && start > 0) shown = start + this.video.currentTime * 1000;
    }
    if (shown === null) return this.hls && Number.isFinite(this.hls.latency) ? this.hls.latency : null;
    return (Date.now() - shown) / 1000;
  }

  get bufferS() {
    const { buffered, currentTime } = this.video;
    for (let i = 0; i < buffered.length; i += 1) {
      if (buffered.start(i) <= currentTime + 0.1 && currentTime <= buffered.end(i)) {
        return buffered.end(i) - currentTime;
      }
    }
    return 0;
  }

  /** The media's bitrate over the last fragments (bytes / seconds of media), in kbit/s. */
  get bitrateKbps() {
    const bytes = this.fragments.reduce((sum, f) => sum + f.bytes, 0);
    const seconds = this.fragments.reduce((sum, f) => sum + f.duration, 0);
    return seconds > 0 ? (bytes * 8) / seconds / 1000 : null;
  }

  stats() {
    const latency = this.latencyS;
    return {
      engine: this.engine,
      status: this.status,
      latencyS: latency === null ? null : Math.round(latency * 100) / 100,
      bufferS: Math.round(this.bufferS * 100) / 100,
      bitrateKbps: this.bitrateKbps === null ? null : Math.round(this.bitrateKbps),
      width: this.video.videoWidth,
      height: this.video.videoHeight,
    };
  }

  // ---- inside -----------------------------------------------------------------------------

  set(status) {
    if (status === this.status) return;
    this.status = status;
    this.onChange(this);
  }

  async start() {
    clearTimeout(this.retryTimer);
    const source = this.source;
    this.teardown(true);
    this.set('loading');
    if (source.youtube_video_id) {
      this.startYoutube(source.youtube_video_id);
      return;
    }
    this.video.hidden = false;
    if (nativeHls(this.video)) {
      this.engine = 'native';
      this.video.src = source.url;
      this.resume();
      return;
    }
    let Hls;
    try {
      Hls = await loadHls();
    } catch {
      this.retry();
      return;
    }
    if (this.source !== source) return; // changed while the module loaded
    if (!Hls.isSupported()) {
      this.engine = 'native';
      this.video.src = source.url;
      this.resume();
      return;
    }
    this.engine = 'hls.js';
    const hls = new Hls({
      ...(this.live ? LIVE_CONFIG : {}),
      enableWorker: true,
      workerPath: HLS_WORKER,
    });
    this.hls = hls;
    this.mediaRecoveries = 0;
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal || this.hls !== hls) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.mediaRecoveries < 2) {
        this.mediaRecoveries += 1;
        hls.recoverMediaError();
        return;
      }
      this.retry();
    });
    hls.on(Hls.Events.FRAG_LOADED, (_, data) => {
      const bytes = data.frag?.stats?.total || data.payload?.byteLength || 0;
      const duration = data.frag?.duration || 0;
      if (!bytes || !duration) return;
      this.fragments.push({ bytes, duration });
      if (this.fragments.length > BITRATE_WINDOW) this.fragments.shift();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => this.resume());
    hls.loadSource(source.url);
    hls.attachMedia(this.video);
  }

  startYoutube(id) {
    this.engine = 'youtube';
    this.video.hidden = true;
    const url = new URL(`${YOUTUBE_EMBED}${encodeURIComponent(id)}`);
    // enablejsapi: the unmute button talks to the embed by postMessage (no YouTube script here).
    url.search = new URLSearchParams({
      autoplay: '1', mute: '1', playsinline: '1', enablejsapi: '1', rel: '0', origin: window.location.origin,
    }).toString();
    const iframe = document.createElement('iframe');
    iframe.src = url.toString();
    iframe.className = 'youtube';
    iframe.title = this.video.getAttribute('aria-label') || 'Live video';
    iframe.allow = 'autoplay; encrypted-media; picture-in-picture; fullscreen';
    iframe.referrerPolicy = 'strict-origin-when-cross-origin';
    iframe.addEventListener('load', () => this.set('playing'));
    this.iframe = iframe;
    this.youtubeMuted = true;
    (this.frame || this.video.parentElement).append(iframe);
  }

  youtube(func) {
    this.iframe?.contentWindow?.postMessage(JSON.stringify({ event: 'command', func, args: [] }), 'https://www.youtube-nocookie.com');
  }

  /** Tear the engine down; `keepPicture` leaves the last frame on screen until the next plays. */
  teardown(keepPicture) {
    if (keepPicture && this.video.videoWidth && this.status !== 'idle' && this.engine !== 'youtube') this.holdPicture();
    else this.releasePicture();
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (this.iframe) {
      this.iframe.remove();
      this.iframe = null;
    }
    if (this.engine === 'native' || this.engine === 'hls.js') {
      this.video.removeAttribute('src');
      this.video.load();
    }
    this.engine = null;
    this.fragments = [];
    this.lastProgress = { time: -1, at: Date.now() };
  }

  holdPicture() {
    const { video } = this;
    const canvas = this.freeze || document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    try {
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    } catch {
      return;
    }
    canvas.className = 'freeze';
    canvas.setAttribute('aria-hidden', 'true');
    if (!this.freeze) video.after(canvas);
    this.freeze = canvas;
  }

  releasePicture() {
    this.freeze?.remove();
    this.freeze = null;
  }

  playing() {
    this.attempt = 0;
    this.blocked = false;
    this.lastProgress = { time: this.video.currentTime, at: Date.now() };
    this.releasePicture();
    this.set('playing');
  }

  progress() {
    const time = this.video.currentTime;
    if (time !== this.lastProgress.time) {
      this.lastProgress = { time, at: Date.now() };
      if (this.status === 'waiting' && !this.video.paused) this.playing();
    }
  }

  /** The picture froze without an error event: say so, then start again. */
  checkProgress() {
    if (!this.source || this.engine === 'youtube' || this.blocked) return;
    if (this.video.paused && this.status !== 'loading') return; // paused by the viewer (replay)
    if (!['playing', 'waiting', 'loading'].includes(this.status)) return;
    const still = Date.now() - this.lastProgress.at;
    if (this.status === 'playing' && still > STALL_AFTER_MS) this.set('waiting');
    if (this.live && still > RESTART_AFTER_MS) this.retry();
  }

  /** A live stream's playlist ended (the encoder left): wait for the next take. */
  endedEarly() {
    if (this.live && this.source) this.retry();
  }

  failed() {
    if (this.engine === 'native' && this.source) this.retry();
  }

  retry() {
    if (!this.source) return;
    clearTimeout(this.retryTimer);
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    if (this.hls) this.hls.stopLoad();
    this.set('retrying');
    this.lastProgress = { time: this.video.currentTime, at: Date.now() + delay };
    this.retryTimer = setTimeout(() => this.start(), delay);
  }
}
