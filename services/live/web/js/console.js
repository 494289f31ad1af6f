// The host console: schedule a room, build its lineup, run the show, read the figures.
import {
  $, api, applyEdit, clock, copyText, dateTime, editedMark, el, loadConfig, localInputToIso, money,
  sendOnEnter, setCurrency, show, toCents, toast,
} from './common.js';
import { GroupPanel } from './group-panel.js';
import { bindLanguageSelect, onLanguageChange, t, translatePage } from './i18n.js';
import { PhotoViewer, attachmentNode, hasText, picture, productPhotoUrl, silence, usable } from './media.js';
import { PhotoPanel } from './photo-panel.js';
import { PickupPanel } from './pickup-panel.js';
import { PostComposer } from './post-composer.js';
import { RoomSocket } from './room-socket.js';
import { StreamPanel } from './stream-panel.js';

const TOKEN_KEY = 'qunlive.console.token';
const ROOMS_KEY = 'qunlive.console.rooms';
const MINUTES_KEY = 'qunlive.console.minutes';
const SALES_EVERY_MS = 2000;
const DECISIONS_EVERY_MS = 3000;
const MAX_LINES = 200;

const state = {
  config: null,
  token: sessionStorage.getItem(TOKEN_KEY),
  products: [],
  room: null,
  sales: null,
  lines: [],
  names: new Map(),
  chatTimes: [],
  viewers: 0,
  likes: 0,
  polls: new Map(),
  packets: new Map(),
  decisions: [],
};
let socket = null;
let timers = [];
let streamPanel = null;
let photoPanel = null;
let composer = null;
let groups = null; // the bound group chats (ingest)
let pickup = null; // the host's pickup points (orders)
let photos = null; // the full-size photo viewer (a posted picture, opened from the chat)

// ---- HTTP to each service, with the console's credential ---------------------------------

const live = (path, options = {}) => api('', path, { token: state.token, ...options });
const orders = (path, options = {}) => api(state.config.orders_url, path, { token: state.token, ...options });
const ingest = (path, options = {}) => api(state.config.ingest_url, path, { token: state.token, ...options });

// The errors on screen, by where they show: kept (not their text) so that a language
// change says them again in the new language, and a refresh that works again clears
// the "can't reach the server" it left.
const errors = new Map();

function errorText(error) {
  if (error.status === 0) return t('err.network');
  if (error.status === 401 || error.status === 403) {
    return t('err.not_allowed', { detail: error.detail || '' });
  }
  return error.message;
}

function fail(where, error) {
  errors.set(where, error);
  $(where).textContent = errorText(error);
}

function clearError(where) {
  errors.delete(where);
  $(where).textContent = '';
}

/** A periodic refresh worked: the network error it (or another call) left is over. */
function reachable(where) {
  if (errors.get(where)?.status === 0) clearError(where);
}

function renderErrors() {
  for (const [where, error] of errors) $(where).textContent = errorText(error);
}

// ---- login --------------------------------------------------------------------------------

async function init() {
  translatePage();
  bindLanguageSelect($('#lang'));
  onLanguageChange(renderAll);
  wire();
  streamPanel = new StreamPanel({ live });
  photos = new PhotoViewer();
  groups = new GroupPanel({ ingest, errorText });
  window.qunliveConsole = { socket, state, streamPanel };
  state.config = await loadConfig();
  setCurrency(state.config.currency);
  photoPanel = new PhotoPanel({ orders, ordersUrl: state.config.orders_url, onChange: renderLineup });
  pickup = new PickupPanel({ orders, errorText });
  composer = new PostComposer({
    live,
    roomToken,
    send: (frame) => socket?.send(frame) ?? false,
    offers: () => offersInShowOrder(),
  });
  if (state.token && (await verify(state.token))) loggedIn();
  else showLogin();
  window.addEventListener('hashchange', () => {
    const id = roomFromHash();
    if (id && id !== state.room?.id && state.token) openRoom(id);
  });
}

function showLogin() {
  show($('#login'));
  show($('#rooms'), false);
  show($('#show'), false);
  show($('#logout'), false);
  show($('#who'), false);
}

async function verify(token) {
  try {
    state.products = await api(state.config.orders_url, '/products', { token });
    return true;
  } catch (error) {
    $('#login-error').textContent = error.status === 401 || error.status === 403
      ? t('console.bad_token')
      : error.message;
    return false;
  }
}

function loggedIn() {
  show($('#login'), false);
  show($('#rooms'));
  show($('#logout'));
  $('#who').textContent = t('console.logged_in');
  show($('#who'));
  renderRecentRooms();
  renderProducts();
  const id = roomFromHash();
  if (id) openRoom(id);
}

/** The bearer token the room's own calls take (a media post): the one the console's
 * socket joined with, or a new join when the socket is not open. */
async function roomToken() {
  if (socket?.token) return socket.token;
  const grant = await live(`/rooms/${encodeURIComponent(state.room.id)}/join`, {
    method: 'POST', body: { display_name: t('console.host_name') },
  });
  return grant.token;
}

function roomFromHash() {
  return decodeURIComponent(window.location.hash.replace(/^#/, '')) || null;
}

// ---- rooms --------------------------------------------------------------------------------

function recentRooms() {
  try {
    return JSON.parse(localStorage.getItem(ROOMS_KEY) || '[]');
  } catch {
    return [];
  }
}

function remember(room) {
  const rooms = recentRooms().filter((r) => r.id !== room.id);
  rooms.unshift({ id: room.id, title: room.title });
  localStorage.setItem(ROOMS_KEY, JSON.stringify(rooms.slice(0, 12)));
  renderRecentRooms();
}

function renderRecentRooms() {
  $('#recent-rooms').replaceChildren(...recentRooms().map((room) => el('li', {},
    el('button', { type: 'button', class: 'chip', onclick: () => openRoom(room.id), text: room.title }))));
}

async function createRoom(event) {
  event.preventDefault();
  clearError('#rooms-error');
  const title = $('#room-title-input').value.trim();
  if (!title) {
    $('#rooms-error').textContent = t('console.title_needed');
    return;
  }
  try {
    const room = await live('/rooms', {
      method: 'POST', body: { title, scheduled_at: localInputToIso($('#room-when').value) },
    });
    $('#room-title-input').value = '';
    await openRoom(room.id);
  } catch (error) {
    fail('#rooms-error', error);
  }
}

async function openRoom(roomId) {
  clearError('#rooms-error');
  let room;
  try {
    room = await live(`/rooms/${encodeURIComponent(roomId)}`);
  } catch (error) {
    fail('#rooms-error', error);
    return;
  }
  leaveRoom();
  state.room = room;
  window.location.hash = room.id;
  remember(room);
  show($('#show'));
  refreshProducts(); // the catalog may have grown elsewhere (another tab, the API)
  composer.open(room.id);
  fillRules(room.rules || {});
  renderRoom();
  await refreshSales();
  if (!$('#preview-text').value) $('#preview-text').value = draftPreview();
  refreshDecisions();
  groups.open(room.id);
  pickup.open(room.id);
  streamPanel.open(room.id);
  timers = [
    setInterval(refreshSales, SALES_EVERY_MS),
    setInterval(refreshDecisions, DECISIONS_EVERY_MS),
    setInterval(renderFigures, 1000),
  ];
  if (room.status !== 'ended') watch(room.id);
}

function leaveRoom() {
  timers.forEach(clearInterval);
  timers = [];
  streamPanel?.close();
  composer?.close();
  photos?.close();
  groups?.close();
  socket?.stop();
  socket = null;
  Object.assign(state, {
    room: null, sales: null, lines: [], chatTimes: [], viewers: 0, likes: 0, decisions: [],
  });
  state.polls = new Map();
  state.packets = new Map();
  state.names = new Map();
  $('#preview-text').value = '';
  delete $('#preview-text').dataset.edited;
}

/** The console watches the room through the same websocket viewers use, as its host. */
function watch(roomId) {
  socket = new RoomSocket({
    join: () => live(`/rooms/${encodeURIComponent(roomId)}/join`, {
      method: 'POST', body: { display_name: t('console.host_name') },
    }),
    onFrame,
    onState: (status, detail) => {
      const line = $('#connection');
      if (status === 'open' || status === 'stopped') {
        show(line, false);
        return;
      }
      line.textContent = status === 'reconnecting'
        ? t('conn.reconnecting', { seconds: Math.ceil(detail.delayMs / 1000) })
        : t('conn.connecting');
      show(line);
    },
  });
  window.qunliveConsole = { socket, state, streamPanel };
  socket.start();
}

function onFrame(frame) {
  switch (frame.type) {
    case 'welcome':
      state.viewers = frame.viewers;
      state.room.status = frame.status;
      mergeLines(frame.history, false);
      renderRoom();
      break;
    case 'chat':
      mergeLines(frame.messages, true);
      break;
    case 'deleted':
      state.lines = state.lines.filter((line) => line.id !== frame.message_id);
      renderChat();
      break;
    case 'edited': {
      // A group member edited their line ("+1" -> "+2"); a line I do not have is ignored.
      const line = state.lines.find((known) => known.id === frame.message_id);
      if (applyEdit(line, frame)) renderChat(line.id);
      break;
    }
    case 'attached': {
      const line = state.lines.find((known) => known.id === frame.message_id);
      if (line) {
        line.attachment = frame.attachment || { kind: 'failed', media: line.attachment?.media || 'image' };
        renderChat(line.id);
      }
      break;
    }
    case 'presence':
      state.viewers = frame.viewers;
      renderFigures();
      break;
    case 'likes':
      state.likes = frame.total;
      renderFigures();
      break;
    case 'room':
      state.room.status = frame.status;
      renderRoom();
      break;
    case 'pinned':
      state.room.pinned_offer_id = frame.offer ? frame.offer.offer_id : null;
      renderLineup();
      break;
    case 'offer':
      refreshSales();
      break;
    case 'poll':
      state.polls.set(frame.poll_id, frame);
      renderPolls();
      break;
    case 'red_packet':
      state.packets.set(frame.packet_id, frame);
      renderPackets();
      break;
    case 'moderation':
      refreshDecisions();
      break;
    case 'stream':
      streamPanel.frame(frame);
      break;
    case 'error':
      if ((frame.ref || '').startsWith('p')) composer.refused(frame);
      else toast(frame.message, 'error');
      break;
    default:
      break;
  }
}

function mergeLines(lines, live) {
  const known = new Map(state.lines.map((line) => [line.id, line]));
  let redraw = false; // a line edited while away: drawn again (one, or all)
  for (const line of lines || []) {
    const had = known.get(line.id);
    if (had) {
      if (line.edited && line.text !== had.text && applyEdit(had, line)) {
        redraw = redraw === false ? had.id : true;
      }
      continue;
    }
    state.lines.push(line);
    if (line.customer_id) state.names.set(line.customer_id, line.name);
    if (live && line.source !== 'system') state.chatTimes.push(Date.now());
  }
  state.lines = state.lines.slice(-MAX_LINES);
  renderChat(redraw);
  renderFigures();
}

async function changeStatus(action) {
  clearError('#room-error');
  try {
    state.room = await live(`/rooms/${state.room.id}/${action}`, { method: 'POST' });
    renderRoom();
    if (action === 'end') {
      socket?.stop();
      refreshSales();
      streamPanel.refresh();
    }
  } catch (error) {
    fail('#room-error', error);
  }
}

function viewerLink() {
  return new URL(`/r/${encodeURIComponent(state.room.id)}`, window.location.origin).toString();
}

const AUDIENCES = ['lapsed_category', 'unpaid_claims', 'waitlisted'];

/** analytics' report and audience lists need the host's bearer token: fetched, then shown. */
function analyticsPath(what) {
  const room = encodeURIComponent(state.room.id);
  return what === 'report'
    ? `/rooms/${room}/report.html`
    : what === 'report.csv' ? `/rooms/${room}/report.csv` : `/rooms/${room}/audiences/${what}?format=csv`;
}

async function fetchAnalytics(what) {
  let response;
  try {
    response = await fetch(state.config.analytics_url + analyticsPath(what), {
      headers: { Authorization: `Bearer ${state.token}` },
    });
  } catch {
    throw Object.assign(new Error(t('err.network')), { status: 0 });
  }
  if (!response.ok) {
    const body = await response.text();
    let detail = body;
    try {
      detail = JSON.parse(body).detail || body;
    } catch { /* not JSON */ }
    throw new Error(t('console.report_failed', { status: response.status, detail }));
  }
  return response.blob();
}

async function openReport() {
  clearError('#room-error');
  const tab = window.open('', '_blank'); // now, while the click still counts
  try {
    const blob = await fetchAnalytics('report');
    const url = URL.createObjectURL(new Blob([blob], { type: 'text/html;charset=utf-8' }));
    if (tab) tab.location.href = url;
    else window.location.href = url;
  } catch (error) {
    tab?.close();
    fail('#room-error', error);
  }
}

async function download(what) {
  clearError('#room-error');
  try {
    const blob = await fetchAnalytics(what);
    const link = el('a', {
      href: URL.createObjectURL(blob),
      download: `${state.room.id}-${what.replace('.csv', '')}.csv`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } catch (error) {
    fail('#room-error', error);
  }
}

function renderRoom() {
  const room = state.room;
  if (!room) return;
  $('#show-title').textContent = room.title;
  const badge = $('#show-status');
  badge.textContent = t(`status.${room.status}`);
  badge.className = `badge status-${room.status}`;
  $('#show-when').textContent = [
    room.scheduled_at ? t('console.scheduled_for', { when: dateTime(room.scheduled_at) }) : '',
    room.started_at ? t('console.started_at', { when: clock(room.started_at) }) : '',
    room.ended_at ? t('console.ended_at', { when: clock(room.ended_at) }) : '',
    `id ${room.id}`,
  ].filter(Boolean).join(' · ');
  $('#viewer-link').value = viewerLink();
  $('#open-viewer').href = viewerLink();
  $('#go-live').disabled = room.status !== 'scheduled';
  $('#end-show').disabled = room.status !== 'live';
  show($('#after-show'), room.status === 'ended');
  renderLineup();
  renderFigures();
}

// ---- catalog and lineup -------------------------------------------------------------------

function renderProducts() {
  const select = $('#offer-product');
  const chosen = select.value;
  select.replaceChildren(
    el('option', { value: '', text: state.products.length ? t('catalog.choose') : t('catalog.none') }),
    ...state.products.map((p) => el('option', {
      value: p.id, text: p.variants.length ? `${p.title} (${p.variants.join(', ')})` : p.title,
    })),
  );
  select.value = state.products.some((p) => p.id === chosen) ? chosen : (state.products[0]?.id || '');
  photoPanel?.setProducts(state.products);
}

async function refreshProducts() {
  try {
    state.products = await orders('/products');
    renderProducts();
  } catch {
    // The catalog as it was: adding a product or a photo says what is wrong.
  }
}

async function addProduct(event) {
  event.preventDefault();
  clearError('#catalog-error');
  const title = $('#product-title-input').value.trim();
  if (!title) return;
  const variants = $('#product-variants').value.split(/[,，]/).map((v) => v.trim()).filter(Boolean);
  try {
    const product = await orders('/products', { method: 'POST', body: { title, variants } });
    state.products = await orders('/products');
    renderProducts();
    $('#offer-product').value = product.id;
    $('#product-title-input').value = '';
    $('#product-variants').value = '';
  } catch (error) {
    fail('#catalog-error', error);
  }
}

function parseTiers(text) {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const [buyers, price] = line.split(/[:：]/);
    return { min_buyers: Number(buyers), price_cents: toCents(price) };
  });
}

async function addOffer(event) {
  event.preventDefault();
  clearError('#catalog-error');
  const kind = $('#offer-kind').value;
  const productId = $('#offer-product').value;
  if (!productId) {
    $('#catalog-error').textContent = t('catalog.choose_first');
    return;
  }
  const minutes = Number($('#offer-minutes').value) || 0;
  const body = {
    product_id: productId,
    kind,
    price_cents: toCents($('#offer-price').value),
    stock: Number($('#offer-stock').value),
    per_buyer_limit: Number($('#offer-limit').value) || 1,
    pay_within_s: Math.max(1, Number($('#offer-pay-within').value) || 15) * 60,
  };
  if (kind === 'group_buy') {
    body.tiers = parseTiers($('#offer-tiers').value);
    body.min_group = Number($('#offer-min-group').value) || 0;
    body.duration_s = Math.max(1, minutes) * 60; // the group's deadline
  }
  if (kind === 'pre_sale') {
    body.deposit_cents = toCents($('#offer-deposit').value);
    body.balance_from = localInputToIso($('#offer-balance-from').value);
    body.balance_until = localInputToIso($('#offer-balance-until').value);
  }
  try {
    const offer = await orders(`/rooms/${state.room.id}/offers`, { method: 'POST', body });
    const lineup = [...(state.room.lineup || []), offer.id];
    await live(`/rooms/${state.room.id}/lineup`, { method: 'PUT', body: { lineup } });
    state.room.lineup = lineup;
    const saved = JSON.parse(localStorage.getItem(MINUTES_KEY) || '{}');
    saved[offer.id] = minutes;
    localStorage.setItem(MINUTES_KEY, JSON.stringify(saved));
    await refreshSales();
    if (!$('#preview-text').dataset.edited) $('#preview-text').value = draftPreview();
  } catch (error) {
    fail('#catalog-error', error);
  }
}

async function refreshSales() {
  if (!state.room) return;
  try {
    state.sales = await orders(`/rooms/${encodeURIComponent(state.room.id)}/sales`);
    clearError('#lineup-error');
  } catch (error) {
    fail('#lineup-error', error);
    return;
  }
  renderLineup();
  renderFigures();
}

function offersInShowOrder() {
  const offers = state.sales?.offers || [];
  const order = state.room?.lineup || [];
  const rank = (offer) => {
    const at = order.indexOf(offer.id);
    return at === -1 ? order.length : at;
  };
  return [...offers].sort((a, b) => rank(a) - rank(b));
}

function nextTier(offer) {
  return (offer.tiers || []).map(([min, price]) => ({ min, price }))
    .filter((tier) => tier.min > offer.buyers).sort((a, b) => a.min - b.min)[0];
}

function renderLineup() {
  const offers = offersInShowOrder();
  show($('#lineup-empty'), offers.length === 0);
  const pinnedId = state.room?.pinned_offer_id;
  const minutes = JSON.parse(localStorage.getItem(MINUTES_KEY) || '{}');
  const ended = state.room?.status === 'ended';
  $('#lineup-rows').replaceChildren(...offers.map((offer) => {
    const tier = nextTier(offer);
    const isPinned = offer.id === pinnedId;
    const minutesId = `minutes-${offer.id}`;
    const actions = el('td', { class: 'actions' },
      el('button', {
        type: 'button', class: isPinned ? 'pinned' : '', disabled: ended,
        'aria-pressed': isPinned ? 'true' : 'false',
        'aria-label': `${isPinned ? t('lineup.unpin') : t('lineup.pin')}: ${offer.title}`,
        text: isPinned ? t('lineup.unpin') : t('lineup.pin'),
        onclick: () => pin(isPinned ? null : offer.id),
      }));
    if (offer.status === 'scheduled') {
      actions.append(
        el('label', { for: minutesId, class: 'sr-only', text: t('catalog.minutes') }),
        el('input', {
          id: minutesId, type: 'number', min: 1, class: 'minutes', value: minutes[offer.id] || 30,
          title: t('catalog.minutes'), disabled: offer.kind === 'group_buy',
        }),
        el('button', {
          type: 'button', class: 'primary', 'aria-label': `${t('lineup.open')}: ${offer.title}`,
          text: t('lineup.open'), onclick: () => openOffer(offer, minutesId),
        }),
      );
    } else if (offer.status === 'open') {
      actions.append(el('button', {
        type: 'button', class: 'danger', 'aria-label': `${t('lineup.close')}: ${offer.title}`,
        text: t('lineup.close'), onclick: () => closeOffer(offer.id),
      }));
    }
    const photo = lineupPhoto(offer);
    if (offer.product_id && state.products.some((p) => p.id === offer.product_id)) {
      actions.append(el('button', {
        type: 'button', 'aria-label': `${t('lineup.photos')}: ${offer.title}`, text: t('lineup.photos'),
        onclick: () => photoPanel.choose(offer.product_id, true),
      }));
    }
    return el('tr', { dataset: { offerId: offer.id, status: offer.status } },
      el('th', { scope: 'row' },
        el('span', { class: 'lineup-product' },
          photo,
          el('span', {}, offer.title, isPinned ? el('span', { class: 'badge pin', text: t('lineup.pinned') }) : null))),
      el('td', { text: t(`kind.${offer.kind}`) }),
      el('td', { text: money(offer.current_price_cents) }),
      el('td', { class: 'stock', text: `${offer.left} / ${offer.stock}` }),
      el('td', { text: `${offer.held} · ${offer.sold}` }),
      el('td', {
        class: 'group',
        text: offer.kind === 'group_buy'
          ? t('lineup.tier', { buyers: offer.buyers, next: tier ? t('lineup.next_tier', { min: tier.min, price: money(tier.price) }) : t('lineup.best_tier') })
          : '—',
      }),
      el('td', {}, el('span', { class: `badge offer-${offer.status}`, text: t(`offer.${offer.status}`) })),
      actions);
  }));
  composer?.renderOffers();
}

/** A row's small picture: the offer's first photo, else its product's (when known). */
function lineupPhoto(offer) {
  const sizes = (offer.photos || []).find(usable) || photoPanel?.firstOf(offer.product_id);
  if (!sizes) return null;
  return picture(sizes, (name) => productPhotoUrl(state.config.orders_url, name), {
    alt: '', shown: '3rem', className: 'lineup-thumb',
  });
}

async function pin(offerId) {
  clearError('#lineup-error');
  try {
    state.room = await live(`/rooms/${state.room.id}/pin`, { method: 'POST', body: { offer_id: offerId } });
    renderLineup();
  } catch (error) {
    fail('#lineup-error', error);
  }
}

async function openOffer(offer, minutesId) {
  clearError('#lineup-error');
  try {
    const minutes = Number(document.getElementById(minutesId)?.value) || 0;
    if (offer.kind !== 'group_buy' && minutes > 0) {
      const endsAt = new Date(Date.now() + minutes * 60000).toISOString();
      await orders(`/offers/${offer.id}`, { method: 'PATCH', body: { ends_at: endsAt } });
    }
    await orders(`/offers/${offer.id}/open`, { method: 'POST' });
    await refreshSales();
  } catch (error) {
    fail('#lineup-error', error);
  }
}

async function closeOffer(offerId) {
  clearError('#lineup-error');
  try {
    await orders(`/offers/${offerId}/close`, { method: 'POST' });
    await refreshSales();
  } catch (error) {
    fail('#lineup-error', error);
  }
}

function draftPreview() {
  const room = state.room;
  const items = offersInShowOrder().map((o) => `${o.title} ${money(o.current_price_cents)} × ${o.stock}`);
  const when = room?.scheduled_at ? dateTime(room.scheduled_at) : '';
  return t('preview.draft', { when, title: room?.title || '', items: items.join(', ') }).trim();
}

async function announcePreview(event) {
  event.preventDefault();
  const text = $('#preview-text').value.trim();
  if (!text) return;
  try {
    state.room = await live(`/rooms/${state.room.id}/preview`, { method: 'POST', body: { text } });
    $('#preview-status').textContent = t('preview.sent');
  } catch (error) {
    $('#preview-status').textContent = error.message;
  }
}

// ---- figures ------------------------------------------------------------------------------

function renderFigures() {
  const cutoff = Date.now() - 60000;
  state.chatTimes = state.chatTimes.filter((at) => at >= cutoff);
  $('#fig-viewers').textContent = String(state.viewers);
  $('#fig-messages').textContent = String(state.chatTimes.length);
  $('#fig-likes').textContent = String(state.likes);
  const sales = state.sales;
  $('#fig-claims').textContent = String(sales?.claims ?? 0);
  $('#fig-orders').textContent = String(sales?.orders ?? 0);
  $('#fig-paid').textContent = String(sales?.paid_orders ?? 0);
  $('#fig-gmv').textContent = money(sales?.gmv_cents ?? 0);
}

// ---- red packets and polls ----------------------------------------------------------------

async function sendPacket(event) {
  event.preventDefault();
  clearError('#engage-error');
  const body = {
    total_cents: toCents($('#packet-total').value),
    shares: Number($('#packet-shares').value),
    message: $('#packet-message-input').value.trim(),
  };
  try {
    const { packet_id: packetId } = await live(`/rooms/${state.room.id}/red-packets`, { method: 'POST', body });
    state.packets.set(packetId, { packet_id: packetId, status: 'open', shares: body.shares, remaining: body.shares, message: body.message });
    renderPackets();
  } catch (error) {
    fail('#engage-error', error);
  }
}

function renderPackets() {
  const packets = [...state.packets.values()];
  const last = packets[packets.length - 1];
  $('#packet-summary').textContent = last
    ? last.status === 'finished'
      ? t('engage.packet_done', { who: state.names.get(last.luckiest) || last.luckiest || '?', amount: money(last.luckiest_amount_cents) })
      : t('engage.packet_left', { remaining: last.remaining, shares: last.shares })
    : '';
}

async function openPoll(event) {
  event.preventDefault();
  clearError('#engage-error');
  const question = $('#poll-question-input').value.trim();
  const options = $('#poll-options-input').value.split('\n').map((o) => o.trim()).filter(Boolean);
  try {
    const { poll_id: pollId } = await live(`/rooms/${state.room.id}/polls`, { method: 'POST', body: { question, options } });
    state.polls.set(pollId, { poll_id: pollId, question, options, counts: options.map(() => 0), closed: false });
    $('#poll-question-input').value = '';
    $('#poll-options-input').value = '';
    renderPolls();
  } catch (error) {
    fail('#engage-error', error);
  }
}

async function closePoll(pollId) {
  try {
    const { counts } = await live(`/rooms/${state.room.id}/polls/${pollId}/close`, { method: 'POST' });
    const poll = state.polls.get(pollId);
    if (poll) Object.assign(poll, { counts, closed: true });
    renderPolls();
  } catch (error) {
    fail('#engage-error', error);
  }
}

function renderPolls() {
  $('#polls').replaceChildren(...[...state.polls.values()].reverse().map((poll) => el('li', { dataset: { pollId: poll.poll_id } },
    el('strong', { text: poll.question }),
    el('ul', {}, ...poll.options.map((option, i) => el('li', { text: `${option}: ${poll.counts[i] || 0}` }))),
    poll.closed
      ? el('span', { class: 'badge', text: t('poll.closed') })
      : el('button', { type: 'button', text: t('engage.close_poll'), onclick: () => closePoll(poll.poll_id) }))));
}

// ---- chat and moderation ------------------------------------------------------------------

/**
 * The chat, in step with state.lines: lines already shown are kept (a voice clip that
 * plays goes on playing, a picture does not blink); `redraw` is a line id to draw again
 * (its picture arrived) or true for all of them (the language changed).
 */
function renderChat(redraw = false) {
  const list = $('#console-messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const present = new Map([...list.children].map((node) => [node.dataset.id, node]));
  const nodes = state.lines.map((line) => {
    const kept = present.get(line.id);
    if (kept && redraw !== true && redraw !== line.id) {
      present.delete(line.id);
      return kept;
    }
    return chatLine(line);
  });
  for (const gone of present.values()) silence(gone);
  list.replaceChildren(...nodes);
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

function chatLine(line) {
  const hostId = state.room?.host_id;
  const attachment = attachmentNode(line, {
    roomId: state.room?.id, ordersUrl: state.config.orders_url, viewer: photos, onProduct: showOfferRow,
  });
  const item = el('li', { class: `line ${line.source}`, dataset: { id: line.id, customerId: line.customer_id || '' } },
    el('span', { class: 'who', text: line.name }),
    line.source !== 'web' && line.source !== 'system' ? el('span', { class: 'source', text: line.source }) : null,
    attachment && !hasText(line) ? null : el('span', { class: 'text', text: line.text }),
    editedMark(line),
    attachment);
  if (line.source !== 'system') {
    const tools = el('span', { class: 'tools' },
      el('button', { type: 'button', 'aria-label': t('moderation.delete_label', { who: line.name }), text: t('moderation.delete'), onclick: () => moderate('delete', { message_id: line.id }) }));
    if (line.customer_id && line.customer_id !== hostId && line.source === 'web') {
      tools.append(
        el('button', { type: 'button', 'aria-label': t('moderation.mute_label', { who: line.name }), text: t('moderation.mute'), onclick: () => moderate('mute', { customer_id: line.customer_id, minutes: 10 }) }),
        el('button', { type: 'button', class: 'danger', 'aria-label': t('moderation.ban_label', { who: line.name }), text: t('moderation.ban'), onclick: () => moderate('ban', { customer_id: line.customer_id }) }),
      );
    }
    item.append(tools);
  }
  return item;
}

/** A product card in the chat: its row in the lineup. */
function showOfferRow(attachment) {
  const row = document.querySelector(`#lineup-rows tr[data-offer-id="${CSS.escape(attachment.offer_id || '')}"]`);
  if (!row) return;
  row.scrollIntoView({ block: 'center', behavior: 'smooth' });
  row.querySelector('button')?.focus({ preventScroll: true });
}

async function moderate(action, target) {
  clearError('#moderation-error');
  try {
    await live(`/rooms/${state.room.id}/moderation`, {
      method: 'POST', body: { action, reason: t(`moderation.reason_${action}`), ...target },
    });
    refreshDecisions();
  } catch (error) {
    fail('#moderation-error', error);
  }
}

async function refreshDecisions() {
  if (!state.room) return;
  try {
    state.decisions = await live(`/rooms/${encodeURIComponent(state.room.id)}/moderation?limit=50`);
    reachable('#moderation-error');
  } catch (error) {
    fail('#moderation-error', error);
    return;
  }
  renderDecisions();
}

function renderDecisions() {
  const list = $('#decisions');
  if (!state.decisions.length) {
    list.replaceChildren(el('li', { class: 'muted', text: t('moderation.none') }));
    return;
  }
  // Undo buttons only where the decision still stands (the newest about that member).
  const standing = new Set();
  const seen = new Set();
  for (const d of state.decisions) { // newest first
    if (!d.customer_id || !['mute', 'unmute', 'ban', 'unban'].includes(d.action)) continue;
    const kind = d.action.replace(/^un/, '');
    if (seen.has(`${kind}:${d.customer_id}`)) continue;
    seen.add(`${kind}:${d.customer_id}`);
    standing.add(d.id);
  }
  list.replaceChildren(...state.decisions.map((d) => {
    const who = d.customer_id ? state.names.get(d.customer_id) || d.customer_id : '';
    const by = d.by === 'rules' ? t('moderation.by_rules')
      : d.by === 'admin' ? t('moderation.by_admin')
        : d.by === state.room?.host_id ? t('moderation.by_host') : state.names.get(d.by) || d.by;
    const item = el('li', { class: `decision ${d.action}`, dataset: { action: d.action } },
      el('time', { datetime: d.at, text: clock(d.at) }),
      el('span', { class: 'badge', text: t(`action.${d.action}`) }),
      el('span', { class: 'who', text: who }),
      el('span', { class: 'reason', text: d.reason }),
      el('span', { class: 'muted', text: by }));
    if (d.action === 'mute' && standing.has(d.id)) {
      item.append(el('button', { type: 'button', text: t('moderation.unmute'), onclick: () => moderate('unmute', { customer_id: d.customer_id }) }));
    }
    if (d.action === 'ban' && standing.has(d.id)) {
      item.append(el('button', { type: 'button', text: t('moderation.unban'), onclick: () => moderate('unban', { customer_id: d.customer_id }) }));
    }
    return item;
  }));
}

function fillRules(rules) {
  $('#rules-words').value = (rules.blocked_words || []).join(', ');
  $('#rules-links').checked = rules.block_links ?? true;
  $('#rules-ads').checked = rules.block_ads ?? true;
  $('#rules-media').checked = rules.members_post_media ?? false;
  $('#rules-slow').value = rules.slow_mode_s ?? 0;
  $('#rules-length').value = rules.max_length ?? 300;
}

async function saveRules(event) {
  event.preventDefault();
  clearError('#moderation-error');
  const body = {
    blocked_words: $('#rules-words').value.split(/[,，]/).map((w) => w.trim()).filter(Boolean),
    block_links: $('#rules-links').checked,
    block_ads: $('#rules-ads').checked,
    members_post_media: $('#rules-media').checked,
    slow_mode_s: Number($('#rules-slow').value) || 0,
    max_length: Number($('#rules-length').value) || 300,
  };
  try {
    state.room = await live(`/rooms/${state.room.id}/rules`, { method: 'PUT', body });
    toast(t('rules.saved'));
  } catch (error) {
    fail('#moderation-error', error);
  }
}

// ---- wiring -------------------------------------------------------------------------------

function renderAll() {
  if (state.token) $('#who').textContent = t('console.logged_in');
  renderErrors();
  renderProducts();
  renderRecentRooms();
  if (!state.room) return;
  renderRoom();
  streamPanel.render();
  renderChat(true);
  photoPanel?.render();
  composer?.render();
  if (photos?.isOpen) photos.render();
  renderPolls();
  renderPackets();
  renderDecisions();
  groups.relabel();
  pickup?.relabel();
}

function wire() {
  $('#login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = $('#token').value.trim();
    $('#login-error').textContent = '';
    if (!token) {
      $('#login-error').textContent = t('console.token_needed');
      return;
    }
    if (await verify(token)) {
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('#token').value = '';
      loggedIn();
    }
  });
  $('#logout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    leaveRoom();
    window.location.hash = '';
    showLogin();
  });
  $('#create-room').addEventListener('submit', createRoom);
  $('#open-room').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('#room-id-input').value.trim();
    if (id) openRoom(id);
  });
  $('#copy-link').addEventListener('click', async () => {
    const ok = await copyText($('#viewer-link').value, $('#viewer-link'));
    toast(ok ? t('common.copied') : t('common.copy_failed'));
  });
  $('#go-live').addEventListener('click', () => changeStatus('start'));
  $('#open-report').addEventListener('click', openReport);
  $('#report-csv').addEventListener('click', () => download('report.csv'));
  for (const audience of AUDIENCES) {
    $(`#audience-${audience}`).addEventListener('click', () => download(audience));
  }
  $('#end-show').addEventListener('click', () => {
    if (window.confirm(t('console.confirm_end'))) changeStatus('end');
  });
  $('#new-product').addEventListener('submit', addProduct);
  const offerForm = $('#new-offer');
  offerForm.dataset.kind = $('#offer-kind').value;
  $('#offer-kind').addEventListener('change', () => {
    offerForm.dataset.kind = $('#offer-kind').value;
  });
  offerForm.addEventListener('submit', addOffer);
  $('#preview-text').addEventListener('input', () => {
    $('#preview-text').dataset.edited = '1';
  });
  $('#preview-form').addEventListener('submit', announcePreview);
  $('#packet-form').addEventListener('submit', sendPacket);
  $('#poll-form').addEventListener('submit', openPoll);
  $('#rules-form').addEventListener('submit', saveRules);
  sendOnEnter($('#host-chat-input'));
  $('#host-chat').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('#host-chat-input').value.trim();
    if (text && socket?.send({ type: 'chat', text })) $('#host-chat-input').value = '';
  });
}

init().catch((error) => toast(String(error), 'error'));
