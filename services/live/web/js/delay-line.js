// In step with the video: the viewer sees the host say "three, two, one, go" L seconds
// after the host said it (L: the player's measured latency). Frames about what the host
// does on camera (pin a product, open a sale, its stock and sold out) wait L seconds too,
// so the card changes when the video shows it. Orders still decide by the server's clock:
// this only moves what the page shows (docs/websocket-protocol.md, "In step with the video").

export const MAX_DELAY_S = 10;

export class DelayLine {
  /** deliver(frame) shows a frame; delayS() is how late to show it now (null/0: at once). */
  constructor(deliver, delayS) {
    this.deliver = deliver;
    this.delayS = delayS;
    this.queue = []; // {due, frame}, in arrival order (dues never go backwards)
    this.timer = null;
  }

  /** The delay the next frame gets: the measured latency, within [0, MAX_DELAY_S]. */
  currentDelayMs() {
    const seconds = Number(this.delayS());
    if (!Number.isFinite(seconds) || seconds <= 0) return 0;
    return Math.min(seconds, MAX_DELAY_S) * 1000;
  }

  push(frame) {
    const delay = this.currentDelayMs();
    if (delay === 0 && this.queue.length === 0) {
      this.deliver(frame);
      return;
    }
    const last = this.queue.length ? this.queue[this.queue.length - 1].due : 0;
    this.queue.push({ due: Math.max(Date.now() + delay, last), frame }); // order kept
    this.schedule();
  }

  /** Everything waiting, now (the video stopped: nothing to stay in step with). */
  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    const waiting = this.queue;
    this.queue = [];
    for (const { frame } of waiting) this.deliver(frame);
  }

  get pending() {
    return this.queue.length;
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.queue.length) return;
    this.timer = setTimeout(() => this.release(), Math.max(0, this.queue[0].due - Date.now()));
  }

  release() {
    const now = Date.now();
    while (this.queue.length && this.queue[0].due <= now) this.deliver(this.queue.shift().frame);
    this.schedule();
  }
}
