// The viewer page: join a room by its link, watch, chat, buy, pay. Phone first.
import {
  $, ApiError, api, applyEdit, clock, copyText, dateTime, editedMark, el, loadConfig, money, newRef,
  sendOnEnter, setCurrency, show, timeLeft, toast,
} from './common.js';
import { DelayLine } from './delay-line.js';
import {
  asksFulfilment, changeFulfilment, fulfilmentForm, fulfilmentSummary, knownPoint, loadPoint,
} from './fulfilment.js';
import { bindLanguageSelect, onLanguageChange, t, translatePage } from './i18n.js';
import { payForm } from './pay-form.js';
import {
  PhotoViewer, applyAttached, attachmentNode, fullSizes, hasText, picture, productPhotoUrl, silence, usable,
} from './media.js';
import { PostComposer, refusalDetail } from './post-composer.js';
import { RoomSocket } from './room-socket.js';
import { Stage } from './stage.js';

const MAX_LINES = 200;
const STAFF = new Set(['host', 'moderator']); // they may always post media and links
const roomId = decodeURIComponent(window.location.pathname.split('/').filter(Boolean).pop() || '');
const params = new URLSearchParams(window.location.search);
const storageKey = `qunlive.viewer.${roomId}`;
// A group's "Pay" link (?pay=<token>): one order someone's "+1" held, to see and pay here.
const link = payLinkOf(params.get('pay'));

const state = {
  config: null,
  room: null,
  referrer: params.get('ref') || null,
  me: null, // {customer_id, role}
  name: '',
  status: 'scheduled',
  viewers: 0,
  likes: 0,
  pinnedId: null,
  offers: new Map(), // offer_id -> merged view
  lines: [], // chat lines, oldest first
  names: new Map(), // customer_id -> display name
  orders: new Map(), // order_id -> order (from orders)
  paying: new Map(), // order_id -> {since, message}
  packet: null,
  grabbed: new Map(), // packet_id -> amount_cents
  poll: null,
  votes: new Map(), // poll_id -> option
  early: new Map(), // message_id -> an `attached` frame that came before its line
  sheetId: null, // the offer a product card in the chat opened
  mayPost: { media: false, links: false }, // what I may post besides text (welcome, rules, role)
};
// Status lines under each control: kept as {key, vars} so a language switch re-renders them.
const notes = new Map();
const sheetClaims = new Set(); // claim ids sent from the offer sheet

let socket = null;
let stage = null;
let photos = null; // the full-size photo viewer
let composer = null; // the post composer (a picture, a voice clip, a product card, a link)
// Pin and offer frames wait the video's latency, so the card changes when the host is
// seen changing it (js/delay-line.js); everything else is shown at once.
let inStep = null;
let likeBatch = 0;
let likeTimer = null;
// The chat follows new lines unless the viewer scrolled up to read (then it stays put).
// Kept as a flag, not measured at each render: the list is measured as empty while the
// room is still hidden, which left a late joiner at the oldest line for good.
let followChat = true;
const FOLLOW_SLACK_PX = 80;

// ---- storage ------------------------------------------------------------------------------

function saved() {
  try {
    return JSON.parse(localStorage.getItem(storageKey) || '{}');
  } catch {
    return {};
  }
}

function save(patch) {
  localStorage.setItem(storageKey, JSON.stringify({ ...saved(), ...patch }));
}

// One person, one customer id in every room: the latest identity of this browser, whichever
// room gave it ({token, customer_id, name}); another room is joined with its token as
// previous_token, and the /me page ("My orders") reads it.
const ME_KEY = 'qunlive.me';

function savedMe() {
  try {
    return JSON.parse(localStorage.getItem(ME_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

// ---- start --------------------------------------------------------------------------------

async function init() {
  translatePage();
  bindLanguageSelect($('#lang'));
  onLanguageChange(() => {
    renderAll();
    relabelChat();
  });
  photos = new PhotoViewer();
  composer = new PostComposer({
    live: (path, options) => api('', path, options),
    roomToken: async () => saved().token,
    send: (frame) => socket?.send(frame) ?? false,
    offers: postableOffers,
    onPosted: posted,
  });
  wireControls();
  stage = new Stage({ roomId, onChange: stageChanged });
  inStep = new DelayLine(showFrame, () => stage.inStepS);
  keepTopbarHeight();
  try {
    state.config = await loadConfig();
    setCurrency(state.config.currency);
    if (link) openPayLink(); // whatever the room's state: an order can be paid after the show
    state.room = await api('', `/rooms/${encodeURIComponent(roomId)}`);
  } catch (error) {
    show($('#loading'), false);
    problem(
      t(error.status === 404 ? 'viewer.no_room' : 'err.network'),
      error.status === 404 ? '' : error.message,
    );
    return;
  }
  show($('#loading'), false);
  state.status = state.room.status;
  if (state.referrer) save({ referrer: saved().referrer || state.referrer });
  renderHeader();
  stage.refresh();
  if (state.status === 'ended') {
    stage.roomEnded();
    problem(t('viewer.ended_title'), t('viewer.ended_text'));
    return;
  }
  const known = saved();
  if (!known.name && savedMe().name) state.name = savedMe().name; // prefilled, still asked
  if (known.name) {
    state.name = known.name;
    startSocket(known.token || null);
  } else {
    renderJoin();
  }
  setInterval(tick, 1000);
}

function problem(title, text, retry = false) {
  $('#problem-title').textContent = title;
  $('#problem-text').textContent = text || '';
  show($('#problem-retry'), retry);
  show($('#problem'));
  show($('#room'), false);
  show($('#join'), false);
}

function renderJoin() {
  const room = state.room;
  $('#schedule').textContent = room.scheduled_at
    ? t('viewer.scheduled_for', { when: dateTime(room.scheduled_at) })
    : '';
  $('#preview-text').textContent = room.preview_text || '';
  show($('#preview-text'), Boolean(room.preview_text));
  show($('#invited-by'), Boolean(saved().referrer || state.referrer));
  if (state.name && !$('#display-name').value) $('#display-name').value = state.name;
  show($('#join'));
  show($('#room'), false);
}

async function joinRoom(previousToken) {
  const body = {
    display_name: state.name,
    referrer_id: saved().referrer || state.referrer || undefined,
  };
  // This room's own token first (who I was here), else who I am in the other rooms.
  const previous = previousToken || savedMe().token;
  if (previous) body.previous_token = previous;
  let grant;
  try {
    grant = await api('', `/rooms/${encodeURIComponent(roomId)}/join`, { method: 'POST', body });
  } catch (error) {
    if (error.status === 401 && previous) { // not ours: start afresh
      if (!previousToken) localStorage.removeItem(ME_KEY);
      return joinRoom(null);
    }
    throw error;
  }
  state.me = { ...(state.me || {}), customer_id: grant.customer_id };
  save({ name: state.name, token: grant.token, customer_id: grant.customer_id });
  localStorage.setItem(ME_KEY, JSON.stringify({
    token: grant.token, customer_id: grant.customer_id, name: state.name, room_id: roomId,
  }));
  return grant;
}

function startSocket(previousToken) {
  socket?.stop();
  socket = new RoomSocket({
    join: joinRoom,
    onFrame,
    onState: connectionChanged,
  });
  window.qunliveViewer = { socket, state, stage, inStep }; // for people debugging, and for the browser tests
  socket.start(previousToken);
}

function connectionChanged(status, detail) {
  const line = $('#connection');
  if (status === 'open') {
    show(line, false);
    return;
  }
  if (status === 'connecting') {
    line.textContent = t('conn.connecting');
    line.className = 'connection';
  } else if (status === 'reconnecting') {
    line.textContent = t('conn.reconnecting', { seconds: Math.ceil(detail.delayMs / 1000) });
    line.className = 'connection warn';
  } else if (status === 'stopped') {
    show(line, false);
    const code = detail?.status;
    if (code === 4410) { // the show ended: the room stays on screen, orders can still be paid
      state.status = 'ended'; // said by the close too, should its status frame be lost
      inStep.flush();
      stage.roomEnded();
      renderAll();
      return;
    }
    if (code === 403 || code === 4403) problem(t('viewer.removed_title'), t('viewer.removed_text'), code === 4403);
    else if (code === 410) problem(t('viewer.ended_title'), t('viewer.ended_text'));
    else problem(t('viewer.no_room'), detail?.detail || '');
    return;
  }
  show(line, state.me !== null || status !== 'connecting');
}

// ---- frames from the room -----------------------------------------------------------------

function onFrame(frame) {
  switch (frame.type) {
    case 'pinned':
    case 'offer':
      inStep.push(frame);
      break;
    case 'welcome':
      inStep.flush(); // what waited is older than the welcome's state
      if (frame.stream) stage.frame(frame.stream); // the video now (frames were missed while away)
      else stage.refresh();
      state.me = { customer_id: frame.you, role: frame.role };
      state.mayPost = mayPostOf(frame.may_post);
      state.status = frame.status;
      state.viewers = frame.viewers;
      mergeHistory(frame.history);
      setPinned(frame.pinned);
      show($('#join'), false);
      show($('#problem'), false);
      show($('#room'));
      refreshOrders();
      renderAll();
      break;
    case 'chat':
      addLines(frame.messages);
      break;
    case 'deleted':
      forgetLine(frame.message_id);
      state.lines = state.lines.filter((line) => line.id !== frame.message_id);
      renderChat();
      break;
    case 'attached':
      attached(frame);
      break;
    case 'edited': {
      // A group member edited their line ("+1" -> "+2"); a line I do not have is ignored.
      const line = state.lines.find((known) => known.id === frame.message_id);
      if (applyEdit(line, frame)) redrawLine(line);
      break;
    }
    case 'rules':
      // The host changed the rules: what I may post follows from them and my role.
      state.mayPost = STAFF.has(state.me?.role)
        ? { media: true, links: true }
        : { media: Boolean(frame.members_post_media), links: !frame.block_links };
      renderAttach();
      break;
    case 'presence':
      state.viewers = frame.viewers;
      renderHeader();
      break;
    case 'room':
      state.status = frame.status;
      if (frame.status === 'ended') {
        inStep.flush();
        stage.roomEnded();
      }
      renderHeader();
      renderProduct();
      if (frame.status === 'ended') announce(t('viewer.ended_text'));
      break;
    case 'stream':
      stage.frame(frame);
      break;
    case 'likes':
      state.likes = Math.max(state.likes, frame.total); // mine may not be counted in yet
      renderHeader();
      break;
    case 'red_packet':
      if (state.packet?.packet_id !== frame.packet_id) note('#packet-status', null);
      state.packet = frame;
      renderPacket();
      break;
    case 'poll':
      if (state.poll?.poll_id !== frame.poll_id) note('#poll-status', null);
      state.poll = frame;
      renderPoll();
      break;
    case 'announcement':
      announce(frame.text);
      addLines([{ id: newRef('a'), customer_id: null, name: t('chat.announcement'), text: frame.text, source: 'announcement', at: new Date().toISOString() }]);
      break;
    case 'moderation':
      moderationSeen(frame);
      break;
    case 'notice':
      onNotice(frame);
      break;
    case 'error':
      onError(frame);
      break;
    default:
      break;
  }
}

function mergeHistory(history) {
  // A line the history brings again may carry what has since arrived (its picture).
  const fresh = new Map((history || []).map((line) => [line.id, line]));
  for (const [index, line] of state.lines.entries()) {
    const again = fresh.get(line.id);
    if (again && again.attachment && line.attachment?.kind === 'pending' && again.attachment.kind !== 'pending') {
      state.lines[index] = again;
      redrawLine(again);
    } else if (again?.edited && again.text !== line.text && applyEdit(line, again)) {
      redrawLine(line); // edited while I was away
    }
  }
  const seen = new Set(state.lines.map((line) => line.id));
  const missed = (history || []).filter((line) => !seen.has(line.id));
  for (const line of missed) takeEarly(line);
  state.lines = [...state.lines, ...missed].sort((a, b) => new Date(a.at) - new Date(b.at));
  for (const line of state.lines) if (line.customer_id) state.names.set(line.customer_id, line.name);
  state.lines = state.lines.slice(-MAX_LINES);
  renderChat();
}

function addLines(lines) {
  const seen = new Set(state.lines.map((line) => line.id));
  for (const line of lines) {
    if (seen.has(line.id)) continue;
    takeEarly(line);
    state.lines.push(line);
    if (line.customer_id) state.names.set(line.customer_id, line.name);
  }
  state.lines = state.lines.slice(-MAX_LINES);
  renderChat();
}

/** A group's picture or voice note arrived for a line (or could not be fetched). */
function attached(frame) {
  const line = state.lines.find((known) => known.id === frame.message_id);
  if (!line) {
    state.early.set(frame.message_id, frame); // its line comes next (a reconnect's history)
    return;
  }
  applyAttached(line, frame);
  redrawLine(line);
}

function takeEarly(line) {
  const frame = state.early.get(line.id);
  if (!frame) return;
  state.early.delete(line.id);
  if (line.attachment?.kind === 'pending') applyAttached(line, frame);
}

/** A line about to go (deleted): its voice stops, its picture closes if open. */
function forgetLine(messageId) {
  const node = document.querySelector(`#messages > li[data-id="${CSS.escape(messageId)}"]`);
  if (!node) return;
  silence(node);
  const line = state.lines.find((known) => known.id === messageId);
  const full = line?.attachment?.kind === 'image' ? line.attachment.image?.full : null;
  if (full) photos.forget((src) => src.endsWith(`/${encodeURIComponent(full)}`));
}

function announce(text) {
  const banner = $('#announcement');
  banner.textContent = text;
  show(banner);
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => show(banner, false), 15000);
}

function moderationSeen(frame) {
  const aboutMe = frame.customer_id && frame.customer_id === state.me?.customer_id;
  const who = state.names.get(frame.customer_id) || t('common.someone');
  const key = aboutMe && frame.action !== 'delete' ? `mod.${frame.action}_you` : `mod.${frame.action}`;
  const text = t(key, { who, reason: frame.reason || '' });
  addLines([{ id: newRef('m'), customer_id: null, name: t('chat.moderation'), text, source: 'moderation', at: new Date().toISOString() }]);
}

/** A pin or offer frame, once the video shows the moment it tells of. */
function showFrame(frame) {
  if (frame.type === 'pinned') setPinned(frame.offer);
  else mergeOffer(frame.offer);
}

/** The video stopped playing live: nothing left to stay in step with. */
function stageChanged(current) {
  if (current.inStepS === 0 && inStep?.pending) inStep.flush();
}

/** The video sticks under the header on a phone: it needs the header's height. */
function keepTopbarHeight() {
  const bar = document.querySelector('.topbar');
  const set = () => document.documentElement.style.setProperty('--topbar-h', `${bar.offsetHeight}px`);
  new ResizeObserver(set).observe(bar);
  set();
}

// ---- the pinned offer -----------------------------------------------------------------------

function setPinned(view) {
  state.pinnedId = view ? view.offer_id : null;
  if (view) mergeOffer(view);
  else renderProduct();
}

/**
 * Offer frames carry full terms when this live instance saw the offer open; otherwise
 * only what changed (stock left, tier). The terms are then read once from orders.
 */
function mergeOffer(view) {
  const known = state.offers.get(view.offer_id);
  if (view.title) {
    state.offers.set(view.offer_id, {
      ...known,
      ...view,
      photos: Array.isArray(view.photos) ? view.photos : known?.photos || [],
      variants: Array.isArray(view.variants) ? view.variants : known?.variants || [],
      provisional: false,
      buyers: view.buyers ?? known?.buyers ?? null,
      next_tier_at: view.next_tier_at ?? known?.next_tier_at ?? null,
    });
    if (view.kind === 'group_buy' && !known?.tiers) fetchOffer(view.offer_id); // the tiers
  } else {
    const merged = { ...(known || { offer_id: view.offer_id }) };
    if (view.sold_out) Object.assign(merged, { sold_out: true, left: 0 });
    else if (view.left > 0) Object.assign(merged, { left: view.left, sold_out: false });
    if (view.closed) merged.closed = true;
    if (view.buyers !== null && view.buyers !== undefined) merged.buyers = view.buyers;
    if (view.next_tier_at !== null && view.next_tier_at !== undefined) merged.next_tier_at = view.next_tier_at;
    if (view.buyers !== null && view.buyers !== undefined && view.price_cents) merged.price_cents = view.price_cents;
    if (Array.isArray(view.photos) && view.photos.length) merged.photos = view.photos;
    if (Array.isArray(view.variants)) merged.variants = view.variants;
    state.offers.set(view.offer_id, merged);
    if (!known?.title || (!view.sold_out && view.left === 0 && !view.closed)) fetchOffer(view.offer_id);
  }
  renderProduct();
}

const offerFetches = new Map();
function fetchOffer(offerId) {
  if (offerFetches.has(offerId)) return;
  const job = api(state.config.orders_url, `/offers/${encodeURIComponent(offerId)}`)
    .then((offer) => {
      const known = state.offers.get(offerId) || {};
      const tiers = offer.tiers || [];
      const next = tiers.map(([min]) => min).filter((min) => min > offer.buyers).sort((a, b) => a - b)[0];
      state.offers.set(offerId, {
        ...known,
        offer_id: offerId,
        kind: offer.kind,
        title: offer.title,
        price_cents: offer.current_price_cents,
        stock: offer.stock,
        left: offer.left,
        per_buyer_limit: offer.per_buyer_limit,
        ends_at: offer.ends_at,
        sold_out: offer.left === 0 && offer.status === 'open',
        closed: offer.status === 'closed',
        status: offer.status,
        buyers: offer.buyers,
        next_tier_at: next ?? null,
        tiers,
        list_price_cents: offer.price_cents,
        photos: Array.isArray(offer.photos) ? offer.photos : known.photos || [],
        variants: Array.isArray(offer.variants) ? offer.variants : known.variants || [],
        provisional: false,
      });
      renderProduct();
      renderOrders();
      renderSheet();
      renderPayLink();
    })
    .catch((error) => {
      const known = state.offers.get(offerId);
      if (error.status === 404 && known?.provisional) { // a card for an offer orders does not know
        state.offers.set(offerId, { ...known, provisional: false, closed: true, status: 'missing' });
        renderSheet();
      }
    })
    .finally(() => setTimeout(() => offerFetches.delete(offerId), 500));
  offerFetches.set(offerId, job);
}

function pinned() {
  return state.pinnedId ? state.offers.get(state.pinnedId) : null;
}

const photoUrl = (name) => productPhotoUrl(state.config?.orders_url, name);

/** An offer's first photo in `button` (tapping opens them all); hidden without one. */
function renderOfferPhoto(button, countNode, offer, shown) {
  const list = (offer?.photos || []).filter(usable);
  const first = list[0];
  show(button, Boolean(first));
  const current = button.querySelector('img');
  if (!first) {
    current?.remove();
    return;
  }
  const alt = first.alt || offer.title || '';
  if (current?.dataset.name !== first.card) {
    const img = picture(first, photoUrl, { alt, shown, lazy: false, className: 'offer-img' });
    img.dataset.name = first.card;
    if (current) current.replaceWith(img);
    else button.prepend(img);
  } else {
    current.alt = alt;
  }
  button.setAttribute('aria-label', list.length > 1
    ? t('media.open_photos', { alt, n: 1, count: list.length }) // says the count it shows
    : t('media.open_photo', { alt }));
  countNode.textContent = list.length > 1 ? `1/${list.length}` : '';
  show(countNode, list.length > 1);
}

function openOfferPhotos(offer, opener) {
  if (!offer) return;
  photos.open(fullSizes(offer.photos || [], photoUrl, offer.title || ''), 0, opener);
}

function renderProduct() {
  const offer = pinned();
  show($('#product'), Boolean(offer));
  show($('#no-product'), !offer && state.me !== null);
  if (!offer) return;
  renderOfferPhoto($('#product-photo'), $('#product-photo-count'), offer, '(min-width: 900px) 13rem, 38vw');
  const kind = offer.kind || 'flash_sale';
  $('#product-kind').textContent = t(`kind.${kind}`);
  $('#product-title').textContent = offer.title || t('common.loading');
  $('#product-price').textContent = offer.title ? money(offer.price_cents) : '';
  const tiers = offer.tiers || [];
  const firstPrice = tiers.length ? tiers[0][1] : null;
  const was = kind === 'group_buy' && firstPrice && firstPrice > offer.price_cents;
  $('#product-was').textContent = was ? money(firstPrice) : '';
  show($('#product-was'), Boolean(was));
  const soldOut = offer.sold_out || (offer.stock > 0 && offer.left === 0);
  $('#product-stock').textContent = soldOut
    ? t('viewer.sold_out')
    : t('viewer.stock_left', { left: offer.left ?? 0, stock: offer.stock ?? 0 });
  $('#stock-bar').style.width = `${offer.stock ? Math.round((100 * (offer.left || 0)) / offer.stock) : 0}%`;
  const tier = $('#group-tier');
  if (kind === 'group_buy' && offer.buyers !== null && offer.buyers !== undefined) {
    const next = nextCheaperTier(offer);
    tier.textContent = next
      ? t('viewer.tier_next', {
        buyers: offer.buyers,
        more: Math.max(next.min - offer.buyers, 0),
        price: next.price !== undefined ? money(next.price) : '',
      })
      : t('viewer.tier_best', { buyers: offer.buyers });
    show(tier);
  } else {
    show(tier, false);
  }
  const buy = $('#buy');
  const ended = state.status === 'ended' || offer.closed;
  const choosable = renderChoice('b', offer, !ended && Boolean(offer.title));
  buy.disabled = ended || !offer.title || !choosable;
  $('#quantity').disabled = ended;
  buy.textContent = soldOut ? t('viewer.join_waitlist') : kind === 'group_buy' ? t('viewer.join_group') : t('viewer.buy');
  renderCountdown();
  if ($('#post-sheet').open) composer.renderOffers();
}

/** The next tier that lowers the price (tiers from orders; else the frame's next_tier_at). */
function nextCheaperTier(offer) {
  const tiers = offer.tiers || [];
  if (!tiers.length) return offer.next_tier_at ? { min: offer.next_tier_at } : null;
  const found = tiers
    .filter(([min, price]) => min > offer.buyers && price < offer.price_cents)
    .sort((a, b) => a[0] - b[0])[0];
  return found ? { min: found[0], price: found[1] } : null;
}

function renderCountdown() {
  const offer = pinned();
  const line = $('#product-countdown');
  if (!offer) return;
  if (offer.closed || state.status === 'ended') { // the show's end closes its sales
    line.textContent = t('viewer.sale_closed');
    return;
  }
  if (!offer.ends_at) {
    line.textContent = '';
    return;
  }
  const left = timeLeft(offer.ends_at);
  line.textContent = left ? t('viewer.ends_in', { left }) : t('viewer.sale_closed');
}

/** Show `message` ({key, vars, fallback} or null) in the status line `selector`. */
function note(selector, message, tone = '') {
  if (message) notes.set(selector, { ...message, tone });
  else notes.delete(selector);
  renderNote(selector);
}

function renderNote(selector) {
  const node = $(selector);
  const message = notes.get(selector);
  let text = '';
  if (message) {
    text = t(message.key, message.vars);
    if (text === message.key) text = message.fallback || '';
  }
  node.textContent = text;
  node.className = `${node.classList.contains('error') ? 'error' : 'status'} ${message?.tone || ''}`;
}

function buy() {
  const offer = pinned();
  if (!offer) {
    note('#buy-status', { key: 'viewer.nothing_pinned' });
    return;
  }
  claimFrom('b', offer);
}

// ---- choosing a variant (size, colour) and a quantity ---------------------------------------

const PICKERS = {
  b: { box: '#variants', chips: '#variant-chips', left: '#variant-left', quantity: '#quantity', status: '#buy-status' },
  s: { box: '#sheet-variants', chips: '#sheet-variant-chips', left: '#sheet-variant-left', quantity: '#sheet-quantity', status: '#sheet-status' },
};
const choices = { b: new Map(), s: new Map() }; // where -> offer id -> the variant chosen

const variantsOf = (offer) => (Array.isArray(offer?.variants) ? offer.variants : []);

/** The variant chosen for `offer` at `where`, if it is still to be had. */
function chosenVariant(where, offer) {
  const name = choices[where].get(offer.offer_id);
  return variantsOf(offer).find((v) => v.name === name && !v.sold_out) || null;
}

/** At most what one claim may ask now: the per-buyer limit and what is left of the chosen
 * variant (or of the offer); a sold-out offer's waitlist takes up to the limit. */
function maxQuantity(where, offer) {
  const limit = offer.per_buyer_limit || 1;
  const variant = chosenVariant(where, offer);
  const left = variant && variant.left !== null && variant.left !== undefined ? variant.left : offer.left;
  return left > 0 ? Math.max(1, Math.min(limit, left)) : limit;
}

/**
 * The variant chips (a radio group; sold-out ones disabled) and the quantity stepper's bounds
 * for `offer` at `where` ('b' the pinned card, 's' the offer sheet). The chips are rebuilt only
 * when the variants change, so a stock update keeps the focus and the choice. Returns whether
 * a claim can be made (no variants, or one still to be had).
 */
function renderChoice(where, offer, enabled) {
  const picker = PICKERS[where];
  const list = variantsOf(offer);
  show($(picker.box), list.length > 0);
  const chips = $(picker.chips);
  const names = list.map((v) => v.name).join('\n');
  if (chips.dataset.names !== names || chips.dataset.offer !== offer.offer_id) {
    chips.replaceChildren(...list.map((v, i) => {
      const chip = document.createElement('span');
      chip.className = 'variant-chip';
      const input = document.createElement('input');
      Object.assign(input, { type: 'radio', name: `${where}-variant`, id: `${where}-variant-${i}`, value: v.name });
      const label = document.createElement('label');
      label.htmlFor = input.id;
      chip.append(input, label);
      return chip;
    }));
    chips.dataset.names = names;
    chips.dataset.offer = offer.offer_id;
  }
  const chosen = chosenVariant(where, offer);
  if (!chosen) choices[where].delete(offer.offer_id); // sold out meanwhile: choose again
  list.forEach((v, i) => {
    const input = chips.children[i].querySelector('input');
    const label = chips.children[i].querySelector('label');
    input.disabled = !enabled || v.sold_out;
    input.checked = chosen?.name === v.name;
    const hint = document.createElement('span');
    hint.className = 'sr-only';
    hint.textContent = v.sold_out ? t('viewer.variant_sold_out') : '';
    label.replaceChildren(v.name, hint);
  });
  $(picker.left).textContent = chosen && chosen.left !== null && chosen.left !== undefined
    ? t('viewer.variant_left', { name: chosen.name, left: chosen.left })
    : '';
  const quantity = $(picker.quantity);
  const max = maxQuantity(where, offer);
  quantity.max = String(max);
  if (Number(quantity.value) > max) quantity.value = String(max);
  const value = Number(quantity.value) || 1;
  quantity.parentElement.querySelectorAll('.step').forEach((step) => {
    step.disabled = quantity.disabled || (Number(step.dataset.step) < 0 ? value <= 1 : value >= max);
  });
  return list.length === 0 || list.some((v) => !v.sold_out);
}

/** Claim `offer` with what was chosen at `where`; without a variant chosen, ask for one. */
function claimFrom(where, offer) {
  const picker = PICKERS[where];
  const variant = chosenVariant(where, offer);
  if (variantsOf(offer).length && !variant) {
    note(picker.status, { key: 'viewer.choose_variant' }, 'error');
    $(`${picker.chips} input:not(:disabled)`)?.focus();
    return;
  }
  const quantity = Math.max(1, Math.min(Number($(picker.quantity).value) || 1, maxQuantity(where, offer)));
  const frame = { type: 'claim', offer_id: offer.offer_id, quantity, ref: newRef(where) };
  if (variant) frame.variant = variant.name;
  const sent = socket?.send(frame);
  note(picker.status, { key: sent ? 'viewer.checking' : 'conn.offline' }, sent ? '' : 'error');
}

function offerAt(where) {
  return where === 's' ? (state.sheetId ? state.offers.get(state.sheetId) : null) : pinned();
}

function rerenderChoice(where) {
  if (where === 's') renderSheet();
  else renderProduct();
}

function wireChoice(where) {
  const picker = PICKERS[where];
  $(picker.chips).addEventListener('change', (event) => {
    const offer = offerAt(where);
    if (!offer || event.target.type !== 'radio') return;
    choices[where].set(offer.offer_id, event.target.value);
    note(picker.status, null);
    rerenderChoice(where);
  });
  const quantity = $(picker.quantity);
  quantity.addEventListener('input', () => rerenderChoice(where));
  quantity.parentElement.addEventListener('click', (event) => {
    const step = event.target.closest('.step');
    const offer = offerAt(where);
    if (!step || !offer) return;
    const next = (Number(quantity.value) || 1) + Number(step.dataset.step);
    quantity.value = String(Math.max(1, Math.min(next, maxQuantity(where, offer))));
    rerenderChoice(where);
  });
}

// ---- notices and errors (private to me) -------------------------------------------------

function onNotice(frame) {
  const data = frame.data || {};
  // A claim from the offer sheet is answered there, any other on the pinned card: the
  // claim's ref says where it came from, and its id then follows it (orders' answer).
  if (frame.kind === 'claim_sent' && (frame.ref || '').startsWith('s') && data.claim_id) {
    sheetClaims.add(data.claim_id);
  }
  const fromSheet = (frame.ref || '').startsWith('s') || sheetClaims.has(data.claim_id);
  const buyStatus = fromSheet ? '#sheet-status' : '#buy-status';
  switch (frame.kind) {
    case 'claim_sent':
      note(buyStatus, { key: 'viewer.checking' });
      break;
    case 'order_placed':
      note(buyStatus, { key: 'viewer.yours', vars: { when: () => clock(data.pay_by) }, order: data.order_id }, 'good');
      addOrder(data.order_id, {
        id: data.order_id,
        offer_id: data.offer_id,
        quantity: data.quantity,
        variant: data.variant ?? null,
        amount_cents: data.amount_cents,
        pay_by: data.pay_by,
        status: 'awaiting_payment',
      });
      break;
    case 'order_paid':
    case 'order_expired':
      state.paying.delete(data.order_id);
      fetchOrder(data.order_id);
      break;
    case 'claim_rejected':
      note(
        buyStatus,
        { key: `reject.${data.reason}`, vars: { message: frame.message }, fallback: frame.message },
        data.reason === 'sold_out_waitlisted' ? 'warn' : 'error',
      );
      break;
    case 'checked_in':
      note('#action-status', { key: 'checkin.done', vars: { streak: data.streak, points: data.points_earned, total: data.points } }, 'good');
      break;
    case 'grabbed':
      state.grabbed.set(data.packet_id, data.amount_cents);
      renderPacket();
      break;
    case 'voted':
      state.votes.set(data.poll_id, data.option);
      renderPoll();
      break;
    case 'role':
      if (state.me) state.me.role = data.role;
      if (data.may_post) state.mayPost = mayPostOf(data.may_post);
      else if (STAFF.has(data.role)) state.mayPost = { media: true, links: true };
      renderAttach();
      toast(t('viewer.role', { role: t(`role.${data.role}`) }));
      break;
    default:
      if (frame.message) toast(frame.message);
  }
}

const ERROR_LINES = { c: '#chat-error', b: '#buy-status', s: '#sheet-status', g: '#packet-status', v: '#poll-status', k: '#action-status', l: '#action-status' };

/** A refused frame, explained kindly where the viewer acted (the frame's ref says where). */
function onError(frame) {
  if ((frame.ref || '').startsWith('p')) { // a link or product card from the composer
    if ($('#post-sheet').open) composer.refused(frame);
    else note('#chat-error', { key: 'post.refused', vars: { detail: () => refusalDetail(frame) } }, 'error');
    return;
  }
  const message = { key: `err.${frame.code}`, vars: { message: frame.message }, fallback: frame.message };
  const where = ERROR_LINES[(frame.ref || '').charAt(0)];
  if (where) {
    note(where, message, 'error');
  } else {
    const text = t(message.key, message.vars);
    toast(text === message.key ? frame.message : text, 'error');
  }
}

// ---- orders and payment -------------------------------------------------------------------

function addOrder(orderId, draft) {
  const ids = new Set(saved().orders || []);
  ids.add(orderId);
  save({ orders: [...ids] });
  if (!state.orders.has(orderId)) state.orders.set(orderId, draft);
  renderOrders();
  fetchOrder(orderId);
}

/** How to ask orders about an order: the pay link for the link's, my viewer token for mine. */
function orderAuth(orderId) {
  if (link && orderId === link.orderId) return { headers: { 'X-Pay-Token': link.token } };
  return { token: saved().token };
}

// Answers about one order can cross: a read sent right after "Buy now" may come back after
// the buyer's delivery choice was saved, and must not put the old order back. Each read and
// each saved change takes the order's next number; an answer to an older read is dropped.
const orderTurns = new Map();

function nextTurn(orderId) {
  const turn = (orderTurns.get(orderId) || 0) + 1;
  orderTurns.set(orderId, turn);
  return turn;
}

async function fetchOrder(orderId) {
  if (link && orderId === link.orderId) {
    await fetchLinkOrder();
    return;
  }
  const turn = nextTurn(orderId);
  try {
    const order = await api(state.config.orders_url, `/orders/${encodeURIComponent(orderId)}`, orderAuth(orderId));
    if (orderTurns.get(orderId) !== turn) return; // a later read or change has spoken
    state.orders.set(orderId, order);
    if (!state.offers.get(order.offer_id)?.title) fetchOffer(order.offer_id);
    if (order.status !== 'awaiting_payment') state.paying.delete(orderId);
    if (order.status === 'paid' && notes.get('#buy-status')?.order === orderId) {
      note('#buy-status', { key: 'orders.paid_thanks' }, 'good');
    }
  } catch (error) {
    if (orderTurns.get(orderId) !== turn) return;
    if (error.status === 404 || error.status === 403) {
      state.orders.delete(orderId);
      save({ orders: (saved().orders || []).filter((id) => id !== orderId) });
    }
  }
  renderOrders();
}

function refreshOrders() {
  for (const orderId of saved().orders || []) fetchOrder(orderId);
}

const STATUS_TONE = { awaiting_payment: 'warn', paid: 'good', deposit_paid: 'good', expired: 'muted', cancelled: 'muted', refunded: 'muted', forfeited: 'muted' };

function renderOrders() {
  const list = $('#order-list');
  const orders = [...state.orders.values()];
  show($('#orders'), orders.length > 0);
  redrawKeepingInput(list, orders.map((order) => renderOrder(order)));
}

/** Both places a pay form can be: my orders, and the pay link's order. */
function renderPayments() {
  renderOrders();
  renderPayLink();
}

/** Replace `box`'s children: what the viewer is typing survives the redraw (an order or
 * offer update may come mid-way), and so does the focus. */
function redrawKeepingInput(box, children) {
  const typed = new Map([...box.querySelectorAll('input')].map((input) => [input.id, input.value]));
  const focused = document.activeElement?.id;
  box.replaceChildren(...children);
  for (const [id, value] of typed) {
    const input = document.getElementById(id);
    if (input) input.value = value;
  }
  if (focused && box.querySelector(`#${CSS.escape(focused)}`)) document.getElementById(focused).focus();
}

function renderOrder(order) {
  const offer = state.offers.get(order.offer_id);
  const title = offer?.title || t('orders.item');
  const waiting = order.status === 'awaiting_payment';
  const left = waiting ? timeLeft(order.pay_by) : null;
  const paying = state.paying.get(order.id);
  const item = el('li', { class: 'order', dataset: { orderId: order.id, status: order.status } },
    el('div', { class: 'order-head' },
      el('strong', { text: `${title}${order.variant ? ` · ${order.variant}` : ''} × ${order.quantity}` }),
      el('span', { class: `badge ${STATUS_TONE[order.status] || ''}`, text: t(`order.${order.status}`) })),
    el('p', { class: 'order-amount', text: money(order.amount_cents) }),
    waiting
      ? el('p', { class: 'order-deadline', text: left ? t('orders.pay_by', { when: clock(order.pay_by), left }) : t('orders.pay_late') })
      : null,
    order.pickup_code ? el('p', { class: 'pickup', text: t('orders.pickup', { code: order.pickup_code }) }) : null,
    order.from_waitlist ? el('p', { class: 'hint', text: t('orders.from_waitlist') }) : null,
  );
  item.append(...checkoutSteps(order, paying, 'card'));
  return item;
}

/**
 * What follows an order's summary: while it awaits payment, first "Delivery or pickup"
 * (js/fulfilment.js), then how it was chosen, a way to change it, and the pay form;
 * afterwards, how it reaches the buyer.
 */
function checkoutSteps(order, paying, idPrefix) {
  const waiting = order.status === 'awaiting_payment';
  if (waiting && asksFulfilment(order)) {
    return [fulfilmentForm(order, {
      ordersUrl: state.config.orders_url,
      auth: orderAuth(order.id),
      roomId: order.room_id || roomId,
      onChosen: (saved) => chosen(saved, idPrefix),
    })];
  }
  if (order.fulfilment === 'pickup' && order.pickup_point && !knownPoint(order.pickup_point)) {
    loadPoint(state.config.orders_url, order.pickup_point).then((point) => {
      if (point) renderPayments();
    });
  }
  const steps = [fulfilmentSummary(order, knownPoint(order.pickup_point))];
  if (waiting) {
    steps.push(el('button', {
      type: 'button',
      class: 'link-button',
      text: t('fulfil.change'),
      onclick: () => {
        changeFulfilment(order);
        renderPayments();
      },
    }));
    steps.push(payForm(order, paying, pay, idPrefix));
  }
  return steps.filter(Boolean);
}

/** Delivery or pickup saved: the order as orders answered, then straight to paying. */
function chosen(saved, idPrefix) {
  nextTurn(saved.id);
  if (link && saved.id === link.orderId) link.order = { ...link.order, ...saved };
  else state.orders.set(saved.id, saved);
  renderPayments();
  document.getElementById(`${idPrefix}-${saved.id}`)?.focus();
}


async function pay(orderId, card) {
  const digits = card.replace(/\D/g, '');
  if (digits.length < 12) {
    state.paying.set(orderId, { message: 'pay.bad_card', tone: 'error' });
    renderPayments();
    return;
  }
  state.paying.set(orderId, { since: Date.now() });
  renderPayments();
  try {
    await api(state.config.orders_url, `/orders/${encodeURIComponent(orderId)}/pay`, {
      method: 'POST', body: { card: card.trim() }, ...orderAuth(orderId),
    });
  } catch (error) {
    state.paying.set(orderId, { message: error.status ? 'pay.refused' : 'err.network', tone: 'error' });
    renderPayments();
    fetchOrder(orderId);
    return;
  }
  // The outcome arrives by the gateway's callback: the room tells us (order_paid), and we
  // also look, in case that notice was missed.
  for (let i = 0; i < 12 && state.paying.has(orderId); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (!state.paying.has(orderId)) return;
    await fetchOrder(orderId);
  }
  if (state.paying.has(orderId)) {
    state.paying.set(orderId, { message: 'pay.not_confirmed', tone: 'error' });
    renderPayments();
  }
}

// ---- a group's pay link ------------------------------------------------------------------------

/**
 * The link's token and the order it names ({token, orderId, order, problem}), or null.
 * The order id is read from the token's claims only to address the request: orders checks
 * the signature, the order and the buyer (a token it refuses is said as `problem`).
 */
function payLinkOf(token) {
  if (!token) return null;
  let orderId = null;
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), '=')));
    orderId = typeof claims.order === 'string' ? claims.order : null;
  } catch {
    orderId = null;
  }
  return { token, orderId, order: null, problem: orderId ? null : 'paylink.invalid', focused: false };
}

function openPayLink() {
  const sheet = $('#pay-sheet');
  renderPayLink();
  if (!sheet.open) sheet.showModal();
  if (link.orderId) fetchLinkOrder();
  setInterval(renderPayDeadline, 1000); // also on a room that ended (no tick there)
}

async function fetchLinkOrder() {
  const orderId = link.orderId;
  const turn = nextTurn(orderId);
  try {
    const order = await api(state.config.orders_url, `/orders/${encodeURIComponent(orderId)}`, orderAuth(orderId));
    if (orderTurns.get(orderId) !== turn) return; // a later read or change has spoken
    link.order = order;
    link.problem = null;
    if (!state.offers.get(order.offer_id)?.title) fetchOffer(order.offer_id);
    if (order.status !== 'awaiting_payment') state.paying.delete(orderId);
  } catch (error) {
    if (orderTurns.get(orderId) !== turn) return;
    if (error.status === 0 && link.order) { // a blip while waiting for the payment: look again later
      renderPayLink();
      return;
    }
    const expired = error.body?.code === 'pay_link_expired';
    link.problem = error.status === 0 ? 'err.network' : expired ? 'paylink.expired' : 'paylink.invalid';
    if (error.status) state.paying.delete(orderId);
  }
  renderPayLink();
}

function renderPayLink() {
  if (!link) return;
  const order = link.problem ? null : link.order;
  const offer = order ? state.offers.get(order.offer_id) : null;
  renderOfferPhoto($('#pay-photo'), $('#pay-photo-count'), offer, '(min-width: 900px) 13rem, 38vw');
  $('#pay-kind').textContent = order ? t(`kind.${order.kind}`) : '';
  $('#pay-title').textContent = order
    ? `${offer?.title || t('orders.item')} × ${order.quantity}`
    : link.problem ? '' : t('common.loading');
  $('#pay-amount').textContent = order ? money(order.amount_cents) : '';
  const badge = $('#pay-badge');
  badge.textContent = order ? t(`order.${order.status}`) : '';
  badge.className = `badge ${order ? STATUS_TONE[order.status] || '' : ''}`;
  show(badge, Boolean(order));
  renderPayDeadline();
  const pickup = $('#pay-pickup');
  pickup.textContent = order?.pickup_code ? t('orders.pickup', { code: order.pickup_code }) : '';
  show(pickup, Boolean(order?.pickup_code));
  const waiting = order?.status === 'awaiting_payment';
  const box = $('#pay-form');
  const hadFocus = box.contains(document.activeElement);
  redrawKeepingInput(box, order ? checkoutSteps(order, state.paying.get(order.id), 'paylink-card') : []);
  $('#pay-outcome').textContent = payOutcome(order);
  $('#pay-outcome').className = `status ${order?.status === 'paid' || order?.status === 'deposit_paid' ? 'good' : link.problem || (order && !waiting) ? 'warn' : ''}`;
  if (waiting && !link.focused) { // once the order is there: straight to the card number
    link.focused = true;
    box.querySelector('input')?.focus();
  } else if (hadFocus && !box.contains(document.activeElement)) {
    $('#pay-close').focus(); // the form went (paid, expired): focus stays in the dialog
  }
}

function payOutcome(order) {
  if (link.problem) return t(link.problem);
  if (!order || order.status === 'awaiting_payment') return '';
  if (order.status === 'paid' || order.status === 'deposit_paid') return t('orders.paid_thanks');
  if (order.status === 'expired') return t('paylink.order_expired');
  return t('paylink.nothing_to_pay', { status: t(`order.${order.status}`) });
}

function renderPayDeadline() {
  const order = link?.problem ? null : link?.order;
  const node = $('#pay-deadline');
  if (order?.status !== 'awaiting_payment') {
    node.textContent = '';
    return;
  }
  const left = timeLeft(order.pay_by);
  node.textContent = left ? t('orders.pay_by', { when: clock(order.pay_by), left }) : t('orders.pay_late');
}

// ---- red packets and polls ------------------------------------------------------------------

function renderPacket() {
  const packet = state.packet;
  show($('#red-packet'), Boolean(packet));
  if (!packet) return;
  const mine = state.grabbed.get(packet.packet_id);
  $('#packet-message').textContent = packet.message || t('packet.default_message');
  if (packet.status === 'finished') {
    const lucky = packet.luckiest === state.me?.customer_id
      ? t('common.you')
      : state.names.get(packet.luckiest) || t('common.someone');
    $('#packet-left').textContent = t('packet.finished', { who: lucky, amount: money(packet.luckiest_amount_cents) });
  } else {
    $('#packet-left').textContent = t('packet.left', { remaining: packet.remaining, shares: packet.shares });
  }
  $('#grab').disabled = mine !== undefined || packet.status === 'finished';
  if (mine !== undefined) note('#packet-status', { key: 'packet.yours', vars: { amount: () => money(mine) } }, 'good');
}

function grab() {
  if (!state.packet) return;
  note('#packet-status', null);
  if (!socket?.send({ type: 'grab', packet_id: state.packet.packet_id, ref: newRef('g') })) {
    note('#packet-status', { key: 'conn.offline' }, 'error');
  }
}

function renderPoll() {
  const poll = state.poll;
  show($('#poll'), Boolean(poll));
  if (!poll) return;
  $('#poll-question').textContent = poll.question;
  const total = poll.counts.reduce((a, b) => a + b, 0);
  const mine = state.votes.get(poll.poll_id);
  $('#poll-options').replaceChildren(...poll.options.map((option, index) => {
    const count = poll.counts[index] || 0;
    const share = total ? Math.round((100 * count) / total) : 0;
    const bar = el('span', { class: 'fill' });
    bar.style.width = `${share}%`;
    return el('li', {},
      el('button', {
        type: 'button',
        class: `poll-option${mine === index ? ' chosen' : ''}`,
        disabled: poll.closed || mine !== undefined,
        'aria-pressed': mine === index ? 'true' : 'false',
        onclick: () => vote(index),
      },
      el('span', { class: 'label', text: option }),
      el('span', { class: 'count', text: t('poll.count', { count, share }) }),
      bar));
  }));
  if (poll.closed) note('#poll-status', { key: 'poll.closed' });
  else if (mine !== undefined) note('#poll-status', { key: 'poll.voted', vars: { option: poll.options[mine] } }, 'good');
  else renderNote('#poll-status');
}

function vote(option) {
  if (!state.poll) return;
  note('#poll-status', null);
  if (!socket?.send({ type: 'vote', poll_id: state.poll.poll_id, option, ref: newRef('v') })) {
    note('#poll-status', { key: 'conn.offline' }, 'error');
  }
}

// ---- chat, likes, check-in, invite ------------------------------------------------------

/** Keep the list in step with state.lines, touching only what changed (a screen reader
 * then announces just the new lines). */
function renderChat() {
  const list = $('#messages');
  const wanted = new Set(state.lines.map((line) => line.id));
  for (const node of [...list.children]) {
    if (wanted.has(node.dataset.id)) continue;
    silence(node);
    node.remove();
  }
  const present = new Map([...list.children].map((node) => [node.dataset.id, node]));
  let previous = null;
  for (const line of state.lines) {
    let node = present.get(line.id);
    if (!node) {
      node = chatLine(line);
      if (previous) previous.after(node);
      else list.prepend(node);
    }
    previous = node;
  }
  if (followChat) scrollChatDown();
}

/** The attachments' labels in the new language (a clip that plays keeps playing). */
function relabelChat() {
  for (const line of state.lines) {
    if (!line.attachment) continue;
    const node = document.querySelector(`#messages > li[data-id="${CSS.escape(line.id)}"]`);
    if (node && ![...node.querySelectorAll('audio')].some((audio) => !audio.paused)) redrawLine(line);
  }
}

function scrollChatDown() {
  const list = $('#messages');
  list.scrollTop = list.scrollHeight;
}

function chatScrolled() {
  const list = $('#messages');
  if (!list.clientHeight) return; // hidden: nothing to say about where the viewer reads
  followChat = list.scrollHeight - list.scrollTop - list.clientHeight < FOLLOW_SLACK_PX;
}

function chatLine(line) {
  const me = state.me?.customer_id;
  const external = !['web', 'system', 'announcement', 'moderation'].includes(line.source);
  const attachment = attachmentNode(line, {
    roomId, ordersUrl: state.config?.orders_url, viewer: photos, onProduct: openProductCard,
  });
  return el('li', {
    class: `line ${line.source}${line.customer_id && line.customer_id === me ? ' mine' : ''}${attachment ? ` has-${line.attachment.kind}` : ''}`,
    dataset: { id: line.id },
  },
  el('span', { class: 'who', text: line.name }),
  external ? el('span', { class: 'source', text: line.source }) : null,
  attachment && !hasText(line) ? null : el('span', { class: 'text', text: line.text }),
  editedMark(line),
  attachment);
}

/** A line whose attachment changed (a group's picture arrived): drawn again in place. */
function redrawLine(line) {
  const node = document.querySelector(`#messages > li[data-id="${CSS.escape(line.id)}"]`);
  if (!node) return;
  const again = chatLine(line);
  node.replaceWith(again);
  if (followChat) scrollChatDown();
}

// ---- a product card in the chat ("look at this one") ----------------------------------------

/** The pinned offer is the card at the top: go there. Another opens in a sheet to buy. */
function openProductCard(attachment, opener) {
  const offerId = attachment.offer_id;
  if (!offerId) return;
  if (offerId === state.pinnedId && !$('#product').hidden) {
    $('#product').scrollIntoView({ block: 'center', behavior: 'smooth' });
    $('#buy').focus({ preventScroll: true });
    return;
  }
  if (!state.offers.get(offerId)?.title) {
    // What the card said until orders answers (terms, stock, whether it is on sale).
    state.offers.set(offerId, {
      ...(state.offers.get(offerId) || {}),
      offer_id: offerId,
      title: attachment.title || '',
      price_cents: attachment.price_cents ?? 0,
      photos: usable(attachment.photo) ? [attachment.photo] : [],
      provisional: true,
    });
  }
  fetchOffer(offerId);
  state.sheetId = offerId;
  note('#sheet-status', null);
  $('#sheet-quantity').value = '1';
  renderSheet();
  const sheet = $('#offer-sheet');
  sheet.returnFocus = opener;
  if (!sheet.open) sheet.showModal();
  $('#sheet-buy').disabled ? $('#sheet-close').focus() : $('#sheet-buy').focus();
}

function renderSheet() {
  const offer = state.sheetId ? state.offers.get(state.sheetId) : null;
  if (!offer) return;
  renderOfferPhoto($('#sheet-photo'), $('#sheet-photo-count'), offer, '(min-width: 900px) 13rem, 38vw');
  $('#sheet-kind').textContent = offer.kind ? t(`kind.${offer.kind}`) : '';
  $('#sheet-title').textContent = offer.title || t('common.loading');
  $('#sheet-price').textContent = offer.title ? money(offer.price_cents) : '';
  const known = !offer.provisional;
  const soldOut = offer.sold_out || (offer.stock > 0 && offer.left === 0);
  $('#sheet-stock').textContent = !known ? '' : soldOut
    ? t('viewer.sold_out')
    : t('viewer.stock_left', { left: offer.left ?? 0, stock: offer.stock ?? 0 });
  const onSale = known && (offer.status ? offer.status === 'open' : !offer.closed) && state.status !== 'ended';
  show($('#sheet-closed'), known && !onSale);
  $('#sheet-quantity').disabled = !onSale;
  const choosable = renderChoice('s', offer, onSale);
  $('#sheet-buy').disabled = !onSale || !choosable;
  $('#sheet-buy').textContent = soldOut ? t('viewer.join_waitlist') : offer.kind === 'group_buy' ? t('viewer.join_group') : t('viewer.buy');
}

function buyFromSheet() {
  const offer = state.sheetId ? state.offers.get(state.sheetId) : null;
  if (!offer) return;
  claimFrom('s', offer);
}

// ---- posting a picture, a voice clip, a product card, a link ---------------------------------

/** What the room says I may post ({media, links}); nothing when it does not say. */
function mayPostOf(value) {
  return { media: Boolean(value?.media), links: Boolean(value?.links) };
}

/** The offers a product card may show: those this room showed (pinned first), on sale. */
function postableOffers() {
  return [...state.offers.values()]
    .filter((offer) => offer.title && !offer.closed && offer.status !== 'missing')
    .sort((a, b) => (b.offer_id === state.pinnedId) - (a.offer_id === state.pinnedId))
    .map((offer) => ({ id: offer.offer_id, title: offer.title, price_cents: offer.price_cents }));
}

/** The attach button by the chat box: there while the rules let me post more than text. */
function renderAttach() {
  const { media, links } = state.mayPost;
  const any = (media || links) && state.status !== 'ended' && state.me !== null;
  const button = $('#attach');
  show(button, any);
  button.setAttribute('aria-label', t(media && links ? 'attach.all' : media ? 'attach.media' : 'attach.links'));
  composer?.allow({ media, links });
  const sheet = $('#post-sheet');
  if (sheet.open && !any) {
    sheet.close();
    if (state.status !== 'ended') toast(t('post.no_longer'));
  }
}

function openPostSheet() {
  const sheet = $('#post-sheet');
  if (sheet.open) return;
  composer.open(roomId);
  composer.allow(state.mayPost);
  sheet.showModal();
  const chosen = sheet.querySelector('input[name="post-kind"]:checked');
  (chosen || $('#post-close')).focus();
}

/** A post went: the sheet closes, the chat shows the line when the room has it. */
function posted(kind) {
  $('#post-sheet').close();
  const said = { image: 'post.posted_image', voice: 'post.posted_voice' }[kind] || 'post.sent';
  toast(t(said));
}

function sendChat(text) {
  const clean = text.trim();
  if (!clean) return false;
  note('#chat-error', null);
  if (!socket?.send({ type: 'chat', text: clean, ref: newRef('c') })) {
    note('#chat-error', { key: 'conn.offline' }, 'error');
    return false;
  }
  return true;
}

function like() {
  likeBatch += 1;
  state.likes += 1;
  renderHeader();
  const button = $('#like');
  button.classList.remove('pop');
  void button.offsetWidth; // restart the animation
  button.classList.add('pop');
  clearTimeout(likeTimer);
  likeTimer = setTimeout(() => {
    const count = Math.min(likeBatch, 50);
    likeBatch = 0;
    socket?.send({ type: 'like', count, ref: newRef('l') });
  }, 400);
}

function inviteLink() {
  const url = new URL(`/r/${encodeURIComponent(roomId)}`, window.location.origin);
  if (state.me?.customer_id) url.searchParams.set('ref', state.me.customer_id);
  return url.toString();
}

function toggleInvite() {
  const box = $('#invite-box');
  const open = box.hidden;
  show(box, open);
  $('#invite').setAttribute('aria-expanded', String(open));
  $('#invite-link').value = inviteLink();
  show($('#share-invite'), Boolean(navigator.share));
}

// ---- header, clock, controls ------------------------------------------------------------

function renderHeader() {
  const room = state.room;
  if (!room) return;
  $('#room-title').textContent = room.title;
  document.title = `${room.title} · Qunlive`;
  const badge = $('#room-status');
  badge.textContent = t(`status.${state.status}`);
  badge.className = `badge status-${state.status}`;
  show(badge);
  $('#viewers').textContent = t('viewer.watching', { count: state.viewers });
  show($('#viewers'), state.me !== null);
  $('#likes-total').textContent = `❤ ${state.likes}`;
  show($('#likes-total'), state.me !== null);
  const ended = state.status === 'ended';
  $('#chat-input').disabled = ended;
  $('#chat-form button[type=submit]').disabled = ended;
  // The socket closes with the show: what would travel on it is off.
  for (const id of ['#plus-one', '#like', '#checkin']) $(id).disabled = ended;
  renderAttach();
}

function renderAll() {
  stage?.render();
  renderHeader();
  renderProduct();
  renderOrders();
  renderPacket();
  renderPoll();
  renderChat();
  renderSheet();
  renderPayLink();
  if ($('#post-sheet').open) composer.render();
  if (photos?.isOpen) photos.render();
  if (!$('#join').hidden) renderJoin();
  if (!$('#invite-box').hidden) $('#invite-link').value = inviteLink();
  for (const selector of notes.keys()) renderNote(selector);
}

function tick() {
  renderCountdown();
  for (const order of state.orders.values()) {
    if (order.status !== 'awaiting_payment') continue;
    const node = document.querySelector(`li[data-order-id="${CSS.escape(order.id)}"] .order-deadline`);
    if (!node) continue;
    const left = timeLeft(order.pay_by);
    node.textContent = left ? t('orders.pay_by', { when: clock(order.pay_by), left }) : t('orders.pay_late');
  }
}

function wireControls() {
  $('#messages').addEventListener('scroll', chatScrolled, { passive: true });
  $('#join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('#display-name').value.trim();
    if (!name) {
      $('#join-error').textContent = t('viewer.name_needed');
      $('#display-name').focus();
      return;
    }
    $('#join-error').textContent = '';
    state.name = name;
    save({ name });
    startSocket(saved().token || null);
  });
  $('#problem-retry').addEventListener('click', () => {
    show($('#problem'), false);
    startSocket(saved().token || null);
  });
  $('#buy').addEventListener('click', buy);
  wireChoice('b');
  wireChoice('s');
  $('#product-photo').addEventListener('click', () => openOfferPhotos(pinned(), $('#product-photo')));
  $('#sheet-photo').addEventListener('click', () => openOfferPhotos(state.offers.get(state.sheetId), $('#sheet-photo')));
  $('#sheet-buy').addEventListener('click', buyFromSheet);
  $('#sheet-close').addEventListener('click', () => $('#offer-sheet').close());
  $('#offer-sheet').addEventListener('click', (event) => {
    // A tap on the backdrop (outside the sheet's box; a tap on its padding is inside).
    const sheet = event.currentTarget;
    const box = sheet.getBoundingClientRect();
    const outside = event.clientX < box.left || event.clientX > box.right
      || event.clientY < box.top || event.clientY > box.bottom;
    if (event.target === sheet && outside) sheet.close();
  });
  $('#offer-sheet').addEventListener('close', () => {
    const sheet = $('#offer-sheet');
    state.sheetId = null;
    if (sheet.returnFocus?.isConnected) sheet.returnFocus.focus();
    sheet.returnFocus = null;
  });
  $('#pay-close').addEventListener('click', () => $('#pay-sheet').close());
  $('#pay-photo').addEventListener('click', () => openOfferPhotos(state.offers.get(link?.order?.offer_id), $('#pay-photo')));
  $('#attach').addEventListener('click', openPostSheet);
  $('#post-close').addEventListener('click', () => $('#post-sheet').close());
  $('#post-sheet').addEventListener('close', () => {
    composer.close(); // a recording under way is dropped
    const attach = $('#attach');
    if (!attach.hidden) attach.focus();
  });
  $('#chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (sendChat($('#chat-input').value)) $('#chat-input').value = '';
  });
  $('#chat-input').addEventListener('input', () => note('#chat-error', null));
  sendOnEnter($('#chat-input'));
  $('#plus-one').addEventListener('click', () => sendChat('+1'));
  $('#like').addEventListener('click', like);
  $('#checkin').addEventListener('click', () => {
    if (!socket?.send({ type: 'checkin', ref: newRef('k') })) note('#action-status', { key: 'conn.offline' }, 'error');
  });
  $('#grab').addEventListener('click', grab);
  $('#invite').addEventListener('click', toggleInvite);
  $('#copy-invite').addEventListener('click', async () => {
    const ok = await copyText($('#invite-link').value, $('#invite-link'));
    note('#action-status', { key: ok ? 'common.copied' : 'common.copy_failed' }, ok ? 'good' : '');
  });
  $('#share-invite').addEventListener('click', () => {
    navigator.share?.({ title: state.room?.title, url: $('#invite-link').value }).catch(() => {});
  });
}

init().catch((error) => {
  problem(t('err.unexpected'), error instanceof ApiError ? error.message : String(error));
});
