// Small helpers shared by the viewer page and the host console: config, HTTP, DOM, formats.
import { currentLang, t } from './i18n.js';

let configPromise = null;

/** Where orders, ingest and analytics answer (live's /config.json). */
export function loadConfig() {
  configPromise ??= fetch('/config.json').then((r) => {
    if (!r.ok) throw new Error(`config: ${r.status}`);
    return r.json();
  });
  return configPromise;
}

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

function detailOf(body) {
  if (!body || typeof body !== 'object') return typeof body === 'string' ? body : '';
  const { detail } = body;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join('.')}: ${d.msg}`).join('; ');
  }
  return body.message || '';
}

/**
 * JSON over HTTP (or a FormData body, sent as multipart). Throws ApiError (status 0 when the network failed) unless the
 * status is ok or listed in `accept` (checkout answers 409 with a body worth reading).
 */
export async function api(base, path, { method = 'GET', token, body, headers = {}, accept = [] } = {}) {
  const sent = { ...headers };
  if (token) sent.Authorization = `Bearer ${token}`;
  // A form (a file upload) goes as multipart: the browser writes its Content-Type.
  const form = typeof FormData !== 'undefined' && body instanceof FormData;
  if (body !== undefined && !form) sent['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(base + path, {
      method,
      headers: sent,
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, t('err.network'));
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok && !accept.includes(response.status)) {
    throw new ApiError(response.status, detailOf(data), data);
  }
  return data;
}

/** A DOM element with attributes and children; strings become text nodes (never HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function show(node, visible = true) {
  node.hidden = !visible;
}

export function locale() {
  return currentLang() === 'zh' ? 'zh-CN' : 'en';
}

let currencyCode = 'CNY';
export function setCurrency(code) {
  currencyCode = code || 'CNY';
}

export function money(cents) {
  return new Intl.NumberFormat(locale(), {
    style: 'currency', currency: currencyCode, currencyDisplay: 'narrowSymbol',
  }).format(
    (cents || 0) / 100,
  );
}

/** Yuan (or the currency's unit) typed by a host -> cents. */
export function toCents(text) {
  const value = Number(String(text).replace(',', '.'));
  return Number.isFinite(value) ? Math.round(value * 100) : NaN;
}

export function clock(value) {
  const at = value instanceof Date ? value : new Date(value);
  return at.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
}

export function dateTime(value) {
  const at = value instanceof Date ? value : new Date(value);
  return at.toLocaleString(locale(), {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** "4:05" or "1:02:03" until `value`; null once it is past. */
export function timeLeft(value, now = Date.now()) {
  const ms = new Date(value).getTime() - now;
  if (!(ms > 0)) return null;
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

let refCounter = 0;
/** A ref for a websocket frame: unique per page, its prefix tells where the answer goes. */
export function newRef(prefix) {
  refCounter += 1;
  return `${prefix}${Date.now().toString(36)}${refCounter}${Math.random().toString(36).slice(2, 6)}`;
}

/** Copy to the clipboard; falls back to selecting the field (http pages lack the API). */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** A short message that goes away by itself (role=status, read by screen readers). */
export function toast(message, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = el('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = el('p', { class: `toast ${kind}`, text: message });
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

/** A date-time input's value (local time) as an ISO string with zone, or null. */
export function localInputToIso(value) {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/**
 * A chat box that keeps line breaks (a 接龙 list is typed on several lines): Enter sends,
 * Shift+Enter starts a new line, and Enter that confirms an input method's candidate
 * (pinyin, kana) only confirms it.
 */
export function sendOnEnter(textarea) {
  textarea.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    textarea.form?.requestSubmit();
  });
}

/** Lines written in live itself (the page's chat, system lines): never edited from a group. */
const LIVE_SOURCES = new Set(['web', 'system']);

/** A group member edited their line (an `edited` frame): its new text, marked as edited.
 * True when `line` changed (the caller draws it again). */
export function applyEdit(line, frame) {
  if (!line || LIVE_SOURCES.has(line.source) || typeof frame.text !== 'string') return false;
  line.text = frame.text;
  line.edited = true;
  return true;
}

/** The small "edited" mark after an edited line's text. */
export function editedMark(line) {
  return line.edited
    ? el('span', { class: 'edited', text: t('chat.edited'), title: t('chat.edited_label') })
    : null;
}
