// The pickup desk (/desk#token=...): whoever staffs a pickup point types, scans (a USB
// scanner types the digits and Enter) or shows the camera a buyer's pickup code, sees the
// order and hands it over. The desk token comes in the link's fragment (never sent to a
// server), is kept in sessionStorage for this tab and removed from the address bar.
import { $, api, clock, dateTime, loadConfig, show } from './common.js';
import { bindLanguageSelect, onLanguageChange, t, translatePage } from './i18n.js';

const TOKEN_KEY = 'qunlive.desk';
const JSQR = '/static/vendor/jsqr/jsQR.js';

const state = {
  token: null,
  ordersUrl: '',
  point: null,
  order: null, // the DeskOrderOut shown
  verdict: null, // { kind: 'good' | 'refused', key, vars }
  camera: null, // { stream, timer }
  scanner: null, // 'barcode-detector' | 'jsqr', once the camera ran
  busy: false,
};

// For tests and support: what the page is doing, without reading the DOM.
window.qunliveDesk = Object.defineProperties({}, {
  scanner: { enumerable: true, get: () => state.scanner },
  order: { enumerable: true, get: () => state.order },
});

function takeToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const fresh = fragment.get('token');
  if (fresh) {
    sessionStorage.setItem(TOKEN_KEY, fresh);
    // Out of the address bar (and so out of a screenshot, a shared tab, the history).
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return fresh || sessionStorage.getItem(TOKEN_KEY);
}

function desk(path, options = {}) {
  return api(state.ordersUrl, path, { token: state.token, ...options });
}

// A new link opened in this tab (same page, another fragment): start again with its token.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(window.location.hash.slice(1)).get('token')) {
    takeToken();
    window.location.reload();
  }
});

async function init() {
  translatePage();
  bindLanguageSelect($('#lang'));
  onLanguageChange(render);
  state.token = takeToken();
  if (!state.token) {
    noLink('desk.no_link_text');
    return;
  }
  try {
    state.ordersUrl = (await loadConfig()).orders_url;
    state.point = (await desk('/desk')).pickup_point;
  } catch (error) {
    const expired = error.status === 401 || error.status === 403;
    if (expired) sessionStorage.removeItem(TOKEN_KEY);
    noLink(expired ? 'desk.link_refused' : 'err.network', error.message);
    return;
  }
  show($('#loading'), false);
  show($('#desk'));
  $('#code-form').addEventListener('submit', (event) => {
    event.preventDefault();
    lookUp($('#code').value);
  });
  $('#handover').addEventListener('click', handOver);
  $('#next').addEventListener('click', nextCode);
  $('#scan').addEventListener('click', startCamera);
  $('#camera-stop').addEventListener('click', stopCamera);
  render();
  $('#code').focus();
}

function noLink(key, detail = '') {
  show($('#loading'), false);
  $('#no-link-text').textContent = t(key, { detail });
  show($('#no-link'));
}

/** Six digits, as a person or a scanner gives them (spaces, dashes dropped), or null. */
function codeOf(text) {
  const digits = String(text).replace(/[\s-]/g, '');
  if (/^[0-9]{6}$/.test(digits)) return digits;
  const inside = String(text).match(/(?:^|[^0-9])([0-9]{6})(?:[^0-9]|$)/); // a QR with more
  return inside ? inside[1] : null;
}

function when(at) {
  const day = new Date(at);
  return day.toDateString() === new Date().toDateString() ? clock(day) : dateTime(day);
}

function status(key, kind = '', vars = {}) {
  const line = $('#code-status');
  line.className = `status ${kind}`.trim();
  line.textContent = key ? t(key, vars) : '';
}

async function lookUp(typed) {
  const code = codeOf(typed);
  if (!code) {
    status('desk.code_invalid', 'error');
    $('#code').focus();
    return;
  }
  if (state.busy) return;
  state.busy = true;
  status('desk.finding');
  try {
    state.order = await desk(`/desk/orders/${code}`);
    state.verdict = verdictOf(state.order);
    status('');
    $('#code').value = '';
    render();
    const ready = !state.order.fulfilled_at && state.order.status === 'paid';
    (ready ? $('#handover') : $('#order')).focus();
  } catch (error) {
    state.order = null;
    render();
    refusal(error, code);
    $('#code').select();
  } finally {
    state.busy = false;
  }
}

function verdictOf(order) {
  if (order.fulfilled_at) {
    return { kind: 'refused', key: 'desk.already', vars: { at: () => when(order.fulfilled_at) } };
  }
  if (order.status === 'refunded') return { kind: 'refused', key: 'desk.refunded' };
  if (order.status !== 'paid') return { kind: 'refused', key: 'desk.not_paid' };
  return null;
}

function refusal(error, code) {
  const body = error.body || {};
  if (error.status === 404) status('desk.unknown_code', 'error', { code });
  else if (error.status === 429) status('desk.too_many', 'error', { seconds: body.retry_after_s || 60 });
  else if (error.status === 401 || error.status === 403) {
    status('desk.link_refused', 'error', { detail: error.message });
  } else {
    status('', 'error');
    $('#code-status').textContent = error.message || t('err.unexpected');
  }
}

async function handOver() {
  const order = state.order;
  if (!order || state.busy) return;
  state.busy = true;
  $('#handover').disabled = true;
  try {
    state.order = await desk(`/desk/orders/${order.code}/handover`, { method: 'POST' });
    const at = state.order.fulfilled_at;
    state.verdict = { kind: 'good', key: 'desk.handed_over', vars: { at: () => when(at) } };
  } catch (error) {
    const body = error.body || {};
    if (body.code === 'already_handed_over') {
      state.order = { ...order, fulfilled_at: body.fulfilled_at };
      state.verdict = verdictOf(state.order);
    } else if (body.code === 'not_paid') {
      const refunded = body.order_status === 'refunded';
      state.verdict = { kind: 'refused', key: refunded ? 'desk.refunded' : 'desk.not_paid' };
    } else {
      refusal(error, order.code);
    }
  } finally {
    state.busy = false;
    render();
    $('#next').focus();
  }
}

function nextCode() {
  state.order = null;
  state.verdict = null;
  status('');
  render();
  $('#code').value = '';
  $('#code').focus();
}

function render() {
  if (state.point) {
    $('#point-name').textContent = `${t('desk.title')} · ${state.point.name}`;
    document.title = `${state.point.name} · ${t('desk.title')} · Qunlive`;
    $('#point-where').textContent = [state.point.address, state.point.hours].filter(Boolean).join(' · ');
  }
  const order = state.order;
  show($('#order'), Boolean(order));
  if (!order) return;
  $('#order-code').textContent = order.code;
  $('#order-title').textContent = order.title;
  $('#order-buyer').textContent = order.buyer_name || t('desk.no_name');
  const items = order.variant
    ? t('desk.items_variant', { quantity: order.quantity, variant: order.variant })
    : t('desk.items_plain', { quantity: order.quantity });
  $('#order-items').textContent = items;
  $('#order-paid').textContent = order.paid_at ? when(order.paid_at) : t('desk.unpaid');
  const verdict = state.verdict;
  const line = $('#order-verdict');
  line.className = `desk-verdict ${verdict?.kind || ''}`.trim();
  line.textContent = verdict ? t(verdict.key, verdict.vars || {}) : '';
  const ready = !order.fulfilled_at && order.status === 'paid';
  show($('#handover'), ready);
  $('#handover').disabled = !ready;
}

// ---- the camera ---------------------------------------------------------------------------

async function detector() {
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const found = new window.BarcodeDetector({ formats: ['qr_code'] });
        state.scanner = 'barcode-detector';
        return async (video) => (await found.detect(video))[0]?.rawValue || null;
      }
    } catch {
      // no working detector: jsQR below
    }
  }
  await loadJsQR();
  state.scanner = 'jsqr';
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    return window.jsQR(image.data, width, height, { inversionAttempts: 'dontInvert' })?.data || null;
  };
}

function loadJsQR() {
  if (window.jsQR) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = JSQR;
    script.onload = resolve;
    script.onerror = () => reject(new Error('jsQR did not load'));
    document.head.append(script);
  });
}

async function startCamera() {
  if (state.camera) return;
  if (!navigator.mediaDevices?.getUserMedia) {
    status('desk.camera_none', 'error');
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: 'environment' } }, audio: false,
    });
  } catch {
    status('desk.camera_denied', 'error');
    return;
  }
  const video = $('#camera-video');
  video.srcObject = stream;
  state.camera = { stream, timer: null };
  show($('#camera'));
  $('#scan').setAttribute('aria-expanded', 'true');
  status('desk.camera_looking');
  try {
    await video.play();
    const read = await detector();
    const tick = async () => {
      if (!state.camera) return;
      let text = null;
      try {
        text = await read(video);
      } catch {
        text = null;
      }
      const code = text && codeOf(text);
      if (code) {
        stopCamera();
        $('#code').value = code;
        lookUp(code);
        return;
      }
      state.camera.timer = setTimeout(tick, 150);
    };
    tick();
  } catch {
    stopCamera();
    status('desk.camera_none', 'error');
  }
}

function stopCamera() {
  if (!state.camera) return;
  clearTimeout(state.camera.timer);
  for (const track of state.camera.stream.getTracks()) track.stop();
  state.camera = null;
  $('#camera-video').srcObject = null;
  show($('#camera'), false);
  $('#scan').setAttribute('aria-expanded', 'false');
  if ($('#code-status').textContent === t('desk.camera_looking')) status('');
}

init();
