// The room's websocket, kept alive: joins (again, with the previous token, so the viewer
// keeps their identity), reconnects after a drop with exponential backoff and jitter,
// pings to notice a dead connection, and reconnects at once on a `gap` frame so the
// welcome frame's history fills what was missed.

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_REMOVED = 4403;
const CLOSE_NOT_FOUND = 4404;
const CLOSE_ENDED = 4410; // the show ended: nothing to reconnect to
const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 8000;

export class RoomSocket {
  /**
   * join(previousToken) -> {token, websocket_path} (throws an ApiError with .status)
   * onFrame(frame); onState(state, detail): connecting | open | reconnecting | stopped
   */
  constructor({ join, onFrame, onState, baseDelayMs = 500, maxDelayMs = 15000 }) {
    this.join = join;
    this.onFrame = onFrame;
    this.onState = onState;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.token = null;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    window.addEventListener('online', () => this.reconnectNow());
  }

  start(previousToken = null) {
    this.token = previousToken;
    this.stopped = false;
    this.connect();
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a frame; false when not connected (the caller tells the user). */
  send(frame) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopPing();
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
  }

  /** Drop this connection and connect again now (after a `gap`, or when back online). */
  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.onclose = null;
      old.close(1000, 'resync');
    }
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    this.onState('connecting');
    let grant;
    try {
      grant = await this.join(this.token);
    } catch (error) {
      if (error.status === 403 || error.status === 404 || error.status === 410) {
        this.stopped = true;
        this.onState('stopped', error);
        return;
      }
      this.retry();
      return;
    }
    if (this.stopped) return;
    this.token = grant.token;
    const url = new URL(grant.websocket_path, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === 'welcome') {
        this.attempt = 0;
        this.onState('open');
        this.startPing();
      } else if (frame.type === 'pong') {
        clearTimeout(this.pongTimer);
        return;
      } else if (frame.type === 'gap') {
        this.onFrame(frame);
        this.reconnectNow();
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPing();
      if (this.stopped) return;
      if (event.code === CLOSE_REMOVED || event.code === CLOSE_NOT_FOUND || event.code === CLOSE_ENDED) {
        this.stopped = true;
        this.onState('stopped', { status: event.code, detail: event.reason });
        return;
      }
      if (event.code === CLOSE_UNAUTHORIZED && this.attempt === 0) {
        this.attempt = 1; // an expired token: join again with it, once, right away
        this.connect();
        return;
      }
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.onState('reconnecting', { delayMs: delay, attempt: this.attempt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping' })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        if (this.ws) this.ws.close(4000, 'no pong'); // half-open: onclose retries
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
