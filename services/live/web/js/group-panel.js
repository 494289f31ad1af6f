// The console's "External group chats" section (ingest's admin API): the room's bound
// groups, and for each one what the show says there: which kinds of message (a switch
// each), in which language, with which texts (the defaults, or the host's own), for which
// partner (?ref=) and, on WhatsApp, with which approved template outside the 24-hour
// window. A group the platform refused (the bot removed, the chat gone) is paused until
// the host fixes it and presses Resume: the card says why, in the platform's words too.
import { $, clock, dateTime, el, show, toast } from './common.js';
import { t } from './i18n.js';

// shared/events/ingest.py OutboundKind, in the order a show goes.
export const KINDS = [
  'preview', 'live', 'offer', 'claim_outcome', 'reminder', 'red_packet', 'announcement', 'welcome',
  'thank_you',
];
const LANGUAGES = { en: 'English', zh: '中文' };
// What a paused binding's code asks the host to do (GROUPS-CONTRACT: the channel port's
// codes that pause); any other code gets the general text.
const PAUSE_CODES = ['bot_removed', 'chat_not_found', 'forbidden', 'template_rejected', 'unauthorized'];
const LEDGER_STATES = ['sending', 'sent', 'failed', 'skipped'];
const HINTED_PLATFORMS = ['telegram', 'whatsapp', 'wecom'];
const REFRESH_EVERY_MS = 10000; // sent/failed counts and pauses move while the show runs
const RECENT = 20;
const TEMPLATE_MAX = 3500; // ingest refuses longer texts (422)

const keyOf = (binding) => `${binding.platform}:${binding.chat_id}`;
const pathOf = (binding) => `/bindings/${encodeURIComponent(binding.platform)}/${encodeURIComponent(binding.chat_id)}`;
// A textarea gives "\n" whatever was typed; a stored text may have "\r\n".
const same = (a, b) => (a || '').replace(/\r\n/g, '\n').trim() === (b || '').replace(/\r\n/g, '\n').trim();

/** How a chat is shown: a WeCom robot's key is a credential (whoever has it posts to the
 * group), so only its ends are. */
export function chatLabel(binding) {
  const id = binding.chat_id;
  return binding.platform === 'wecom' && id.length > 12 ? `${id.slice(0, 4)}…${id.slice(-4)}` : id;
}

export function platformName(platform) {
  if (platform === 'wecom') return t('bindings.platform_wecom');
  return { telegram: 'Telegram', whatsapp: 'WhatsApp', line: 'LINE', wechat: 'WeChat' }[platform] || platform;
}

/** Where in the settings a 422 points: `templates.<kind>`, `referrer_id`, `whatsapp_template`
 * or null (the form as a whole). Reads the schema's `errors[].loc`, else the words. */
export function fieldsAtFault(error) {
  const found = [];
  const body = error.body && typeof error.body === 'object' ? error.body : {};
  const where = (path, words) => {
    const names = (path || []).map(String);
    // ingest names the kind first ("offer: unknown placeholder {price2}; known: ...").
    const named = [...(words || '').matchAll(/\b([a-z_]+): /g)].map((m) => m[1]).find((k) => KINDS.includes(k));
    const kind = KINDS.find((k) => names.includes(k)) || named;
    if (names.includes('templates') || (kind && /template|placeholder|\{/.test(words || ''))) {
      return kind ? `templates.${kind}` : null;
    }
    if (names.includes('referrer_id') || /referrer/.test(words || '')) return 'referrer_id';
    if (names.includes('whatsapp_template') || /whatsapp_template/.test(words || '')) return 'whatsapp_template';
    return null;
  };
  for (const item of Array.isArray(body.errors) ? body.errors : []) {
    found.push({ field: where(item.loc, item.msg), text: String(item.msg || '').replace(/^Value error, /, '') });
  }
  const fieldOfBody = typeof body.field === 'string' ? body.field : null; // an ApiError's extra
  if (!found.length) {
    const detail = body.detail || error.detail || error.message;
    const kind = typeof body.kind === 'string' ? body.kind : null;
    found.push({
      field: fieldOfBody || (kind ? `templates.${kind}` : where([], detail)),
      text: detail,
    });
  }
  return found;
}

export class GroupPanel {
  /** ingest(path, options): ingest's API with the console's credential; errorText(error):
   * the console's words for a failed call. */
  constructor({ ingest, errorText }) {
    this.ingest = ingest;
    this.errorText = errorText;
    this.roomId = null;
    this.bindings = [];
    this.cards = new Map(); // platform:chat -> GroupCard, kept while the binding lasts
    this.defaults = null; // kind -> {placeholders, en, zh}, from GET /outbound/templates
    this.unbound = []; // chats that wrote while unbound: the ids to bind
    this.error = null; // () => text, said again in a new language
    this.timer = null;
    $('#binding-form').addEventListener('submit', (event) => this.bind(event));
    $('#binding-platform').addEventListener('change', () => this.renderForm());
    this.renderForm();
  }

  open(roomId) {
    this.close();
    this.roomId = roomId;
    this.loadDefaults();
    this.loadUnbound();
    this.refresh();
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') this.refresh();
    }, REFRESH_EVERY_MS);
  }

  close() {
    clearInterval(this.timer);
    this.timer = null;
    this.roomId = null;
    this.bindings = [];
    this.cards.clear();
    this.error = null;
    $('#binding-list').replaceChildren();
  }

  fail(error) {
    this.error = error.status === 403 || error.status === 401
      ? () => t('bindings.admin_only')
      : () => this.errorText(error);
  }

  async loadDefaults() {
    if (this.defaults) return;
    try {
      const list = await this.ingest('/outbound/templates');
      this.defaults = new Map(list.map((template) => [template.kind, template]));
    } catch {
      return; // the texts start empty (ingest uses its defaults) until the next room opens
    }
    for (const card of this.cards.values()) card.defaultsArrived();
  }

  async loadUnbound() {
    try {
      this.unbound = await this.ingest('/unbound?recent=0');
    } catch {
      this.unbound = []; // a suggestion only: the host can type the id
    }
    this.renderForm();
  }

  async refresh() {
    const roomId = this.roomId;
    if (!roomId) return;
    try {
      const bindings = await this.ingest(`/bindings?room_id=${encodeURIComponent(roomId)}`);
      if (roomId !== this.roomId) return;
      this.bindings = bindings;
      this.error = null;
    } catch (error) {
      if (roomId !== this.roomId) return;
      this.fail(error);
      // Not the admin: asking again every few seconds will not change that.
      if (error.status === 401 || error.status === 403) clearInterval(this.timer);
    }
    this.render();
  }

  render() {
    $('#bindings-error').textContent = this.error ? this.error() : '';
    const list = $('#binding-list');
    if (!this.bindings.length) {
      this.cards.clear();
      list.replaceChildren(el('li', { class: 'muted', text: t('bindings.none') }));
      return;
    }
    const kept = new Map();
    for (const binding of this.bindings) {
      const key = keyOf(binding);
      const card = this.cards.get(key) || new GroupCard(this, binding);
      card.update(binding);
      kept.set(key, card);
    }
    this.cards = kept;
    const nodes = [...kept.values()].map((card) => card.node);
    // The same cards in the same order: leave the list alone (focus stays where it is).
    const now = [...list.children];
    if (now.length !== nodes.length || now.some((node, i) => node !== nodes[i])) list.replaceChildren(...nodes);
  }

  /** The console's language changed. */
  relabel() {
    this.renderForm();
    for (const card of this.cards.values()) card.relabel();
    this.render();
  }

  renderForm() {
    const platform = $('#binding-platform').value;
    $('#binding-chat-hint').textContent = t(`bindings.hint_${HINTED_PLATFORMS.includes(platform) ? platform : 'other'}`);
    $('#binding-chat').placeholder = {
      telegram: '-1001234567890', whatsapp: 'group_id', wecom: '693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa',
    }[platform] || 'chat_id';
    $('#unbound-chats').replaceChildren(...this.unbound.filter((chat) => chat.platform === platform)
      .map((chat) => el('option', { value: chat.chat_id, label: chat.chat_title || chat.chat_id })));
  }

  async bind(event) {
    event.preventDefault();
    const body = {
      platform: $('#binding-platform').value,
      chat_id: $('#binding-chat').value.trim(),
      room_id: this.roomId,
    };
    if (!body.chat_id || !this.roomId) return;
    try {
      const bound = await this.ingest('/bindings', { method: 'POST', body });
      $('#binding-chat').value = '';
      toast(t('bindings.bound', { adopted: bound.adopted }));
      this.unbound = this.unbound.filter((chat) => !(chat.platform === body.platform && chat.chat_id === body.chat_id));
      this.renderForm();
      await this.refresh();
    } catch (error) {
      this.fail(error);
      this.render();
    }
  }

  async unbind(binding) {
    try {
      await this.ingest(pathOf(binding), { method: 'DELETE' });
      await this.refresh();
    } catch (error) {
      this.fail(error);
      this.render();
    }
  }

  /** The default text of `kind` in `language`, or '' while the defaults are unknown. */
  defaultText(kind, language) {
    return this.defaults?.get(kind)?.[language] ?? '';
  }

  placeholders(kind) {
    return this.defaults?.get(kind)?.placeholders || [];
  }
}

let cards = 0;

/** One bound group: its state (paused, counts), its settings form, its recent messages. */
class GroupCard {
  constructor(panel, binding) {
    cards += 1;
    this.panel = panel;
    this.binding = binding;
    this.id = `group-${cards}`;
    this.labels = []; // [node, what, () => text]: said again when the console's language changes
    this.dirty = false; // the host changed the form since it was filled: a refresh leaves it
    this.errors = new Map(); // field -> text (ingest's own words, not translated)
    this.status = null; // () => text: the settings' save
    this.noted = null; // () => text: the group's (resumed)
    this.formError = null; // () => text
    this.messages = null; // the recent ledger rows, once asked for
    this.messagesError = null;
    this.pauseDrawn = null; // what the pause block shows (redrawn when it changes)
    this.saving = false;
    this.build();
    this.fill(binding.outbound);
  }

  say(node, fn, what = 'text') {
    this.labels.push([node, what, fn]);
    if (what === 'text') node.textContent = fn();
    else node.setAttribute(what, fn());
    return node;
  }

  relabel() {
    for (const [node, what, fn] of this.labels) {
      if (what === 'text') node.textContent = fn();
      else node.setAttribute(what, fn());
    }
    this.renderState();
    this.renderTexts();
    this.renderMessages();
    this.renderNotes();
  }

  get whatsapp() {
    return this.binding.platform === 'whatsapp';
  }

  build() {
    const id = this.id;
    const binding = this.binding;
    this.title = el('h3', { id: `${id}-title`, class: 'group-title', tabindex: -1 },
      el('span', { class: 'badge', text: platformName(binding.platform) }), ' ',
      el('code', { text: chatLabel(binding) }));
    this.badge = el('span', { class: 'badge' });
    this.counts = el('p', { class: 'group-counts' });
    this.pause = el('div', { class: 'paused', hidden: true });
    const unbind = this.say(el('button', { type: 'button', class: 'danger', onclick: () => this.panel.unbind(this.binding) }),
      () => t('bindings.unbind'));
    this.say(unbind, () => t('bindings.unbind_label', { chat: chatLabel(this.binding) }), 'aria-label');
    this.note = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });

    // The settings: one <details>, closed until the host opens it.
    this.switches = new Map();
    this.texts = new Map(); // kind -> {area, summary, placeholders, error, details}
    const kinds = el('fieldset', { class: 'group-kinds' },
      this.say(el('legend'), () => t('groups.kinds_legend')),
      ...KINDS.map((kind) => this.kindRow(kind)));
    this.language = el('select', { id: `${id}-language`, 'aria-describedby': `${id}-language-hint` },
      ...Object.entries(LANGUAGES).map(([value, name]) => el('option', { value, text: name })));
    this.language.addEventListener('change', () => this.languageChanged());
    this.referrer = el('input', {
      id: `${id}-referrer`, maxlength: 140, autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `${id}-referrer-hint ${id}-referrer-error`,
    });
    this.referrerError = el('p', { id: `${id}-referrer-error`, class: 'error' });
    this.template = el('input', {
      id: `${id}-wa-template`, maxlength: 512, autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `${id}-wa-hint ${id}-wa-error`,
    });
    this.templateError = el('p', { id: `${id}-wa-error`, class: 'error' });
    this.saveButton = this.say(el('button', { type: 'submit', class: 'primary' }), () => t('groups.save'));
    this.saveStatus = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.saveError = el('p', { class: 'error', role: 'alert' });
    this.form = el('form', { class: 'group-form', novalidate: true },
      kinds,
      el('div', { class: 'group-fields' },
        this.say(el('label', { for: this.language.id }), () => t('groups.language')),
        this.language,
        this.say(el('p', { id: `${id}-language-hint`, class: 'hint' }), () => t('groups.language_hint')),
        this.say(el('label', { for: this.referrer.id }), () => t('groups.referrer')),
        this.referrer,
        this.say(el('p', { id: `${id}-referrer-hint`, class: 'hint' }), () => t('groups.referrer_hint')),
        this.referrerError,
        this.whatsapp ? [
          this.say(el('label', { for: this.template.id }), () => t('groups.wa_template')),
          this.template,
          this.say(el('p', { id: `${id}-wa-hint`, class: 'hint' }), () => t('groups.wa_template_hint')),
          this.templateError,
        ] : null),
      el('div', { class: 'row buttons' }, this.saveButton),
      this.saveStatus,
      this.saveError);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    this.form.addEventListener('input', () => this.changed());
    this.form.addEventListener('change', () => this.changed());
    this.settings = el('details', { class: 'group-settings' },
      this.say(el('summary'), () => t('groups.settings')),
      this.form);

    this.list = el('ol', { class: 'group-messages' });
    this.refreshMessages = this.say(el('button', { type: 'button', onclick: () => this.loadMessages() }),
      () => t('groups.messages_refresh'));
    this.recent = el('details', { class: 'group-recent' },
      this.say(el('summary'), () => t('groups.messages')),
      this.list,
      this.refreshMessages);
    this.recent.addEventListener('toggle', () => {
      if (this.recent.open) this.loadMessages();
    });

    this.node = el('li', { class: 'group', dataset: { chat: keyOf(binding) }, 'aria-labelledby': this.title.id },
      el('div', { class: 'group-head' }, this.title, this.badge, unbind),
      this.counts,
      this.pause,
      this.note,
      this.settings,
      this.recent);
  }

  kindRow(kind) {
    const id = `${this.id}-${kind}`;
    const name = () => t(`groups.kind.${kind}`);
    const toggle = el('input', { type: 'checkbox', role: 'switch', id: `${id}-on`, 'aria-describedby': `${id}-about` });
    this.switches.set(kind, toggle);
    const area = el('textarea', {
      id: `${id}-text`, rows: 4, maxlength: TEMPLATE_MAX, 'aria-describedby': `${id}-placeholders ${id}-error`,
    });
    const placeholders = el('p', { id: `${id}-placeholders`, class: 'hint placeholders' });
    const error = el('p', { id: `${id}-error`, class: 'error' });
    const mark = el('span', { class: 'badge mine', hidden: true });
    const summary = el('summary', {},
      this.say(el('span'), () => t('groups.edit_text')),
      this.say(el('span', { class: 'sr-only' }), () => `: ${name()}`),
      ' ', mark);
    const label = el('label', { for: area.id });
    const reset = this.say(el('button', { type: 'button', onclick: () => this.reset(kind) }), () => t('groups.reset'));
    this.say(reset, () => t('groups.reset_label', { kind: name() }), 'aria-label');
    const details = el('details', { class: 'kind-text' }, summary, label, area, placeholders,
      el('div', { class: 'row' }, reset), error);
    area.addEventListener('input', () => this.textEdited(kind));
    this.texts.set(kind, { area, label, placeholders, error, mark, details });
    return el('div', { class: 'kind', dataset: { kind } },
      el('label', { class: 'switch', for: toggle.id }, toggle, this.say(el('span'), name)),
      this.say(el('p', { id: `${id}-about`, class: 'hint' }), () => t(`groups.about.${kind}`)),
      details);
  }

  // ---- what ingest says -------------------------------------------------------------------

  update(binding) {
    this.binding = binding;
    if (!this.dirty && !this.saving) this.fill(binding.outbound);
    this.renderState();
    if (this.recent.open) this.loadMessages();
  }

  /** The form as `outbound` has it (null: ingest's defaults). */
  fill(outbound) {
    const settings = outbound || {};
    const language = settings.language in LANGUAGES ? settings.language : 'en';
    this.language.value = language;
    for (const kind of KINDS) {
      const on = settings.kinds?.[kind];
      this.switches.get(kind).checked = on ?? kind !== 'welcome';
      const own = settings.templates?.[kind];
      this.texts.get(kind).area.value = own ?? this.panel.defaultText(kind, language);
    }
    this.referrer.value = settings.referrer_id || '';
    this.template.value = settings.whatsapp_template || '';
    this.language.dataset.was = language;
    this.dirty = false;
    this.renderTexts();
  }

  /** GET /outbound/templates answered after the form was filled: empty texts get theirs. */
  defaultsArrived() {
    for (const kind of KINDS) {
      const { area } = this.texts.get(kind);
      if (!area.value) area.value = this.panel.defaultText(kind, this.language.value);
    }
    this.renderTexts();
  }

  renderState() {
    const { binding } = this;
    const paused = binding.paused;
    this.badge.className = `badge ${paused ? 'warn' : 'good'}`;
    this.badge.textContent = paused ? t('groups.paused') : t('groups.active');
    this.counts.textContent = t('groups.counts', { sent: binding.sent ?? 0, failed: binding.failed ?? 0 });
    show(this.pause, Boolean(paused));
    // Drawn again only when it changed: a refresh must not take the focus off Resume.
    const drawn = paused ? JSON.stringify([paused, t('groups.resume')]) : '';
    if (drawn === this.pauseDrawn) return;
    this.pauseDrawn = drawn;
    if (!paused) {
      this.pause.replaceChildren();
      return;
    }
    const code = PAUSE_CODES.includes(paused.code) ? paused.code : 'other';
    const resume = el('button', { type: 'button', class: 'primary', text: t('groups.resume'), onclick: () => this.resume() });
    resume.setAttribute('aria-label', t('groups.resume_label', { chat: chatLabel(binding) }));
    this.pause.replaceChildren(
      el('p', {}, el('strong', { text: t('groups.paused_title') }), ' ', t(`groups.pause.${code}`)),
      paused.reason || paused.at ? el('p', { class: 'hint' },
        paused.reason ? t('groups.platform_said', { reason: paused.reason }) : '',
        paused.reason && paused.at ? ' · ' : '',
        paused.at ? t('groups.paused_since', { when: dateTime(paused.at) }) : '') : null,
      resume);
  }

  renderTexts() {
    const language = this.language.value;
    for (const kind of KINDS) {
      const { area, label, placeholders, error, mark } = this.texts.get(kind);
      label.textContent = t('groups.text_label', { kind: t(`groups.kind.${kind}`), language: LANGUAGES[language] });
      const names = this.panel.placeholders(kind);
      placeholders.replaceChildren(...(names.length
        ? [t('groups.placeholders'), ' ', ...names.flatMap((name, i) => [i ? ' ' : '', el('code', { text: `{${name}}` })])]
        : [t('groups.placeholders_unknown')]));
      const own = this.isOwn(kind);
      mark.textContent = t('groups.own_text');
      show(mark, own);
      const problem = this.errors.get(`templates.${kind}`);
      error.textContent = problem || '';
      if (problem) area.setAttribute('aria-invalid', 'true');
      else area.removeAttribute('aria-invalid');
    }
    for (const [input, field, node] of [
      [this.referrer, 'referrer_id', this.referrerError], [this.template, 'whatsapp_template', this.templateError],
    ]) {
      const problem = this.errors.get(field);
      node.textContent = problem || '';
      if (problem) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  renderNotes() {
    this.note.textContent = this.noted ? this.noted() : '';
    this.saveStatus.textContent = this.status ? this.status() : '';
    this.saveError.textContent = this.formError ? this.formError() : '';
  }

  /** The text of `kind` is the host's own: not empty and not the language's default. */
  isOwn(kind) {
    const value = this.texts.get(kind).area.value;
    if (!value.trim()) return false;
    const base = this.panel.defaultText(kind, this.language.value);
    return base ? !same(value, base) : true;
  }

  // ---- the host edits ---------------------------------------------------------------------

  changed() {
    this.dirty = true;
    this.status = null;
    this.renderNotes();
  }

  textEdited(kind) {
    this.errors.delete(`templates.${kind}`);
    this.renderTexts();
  }

  /** Another language for the group: the texts still the old language's default follow. */
  languageChanged() {
    const before = this.language.dataset.was || 'en';
    const after = this.language.value;
    for (const kind of KINDS) {
      const { area } = this.texts.get(kind);
      const old = this.panel.defaultText(kind, before);
      if (!area.value.trim() || (old && same(area.value, old))) area.value = this.panel.defaultText(kind, after);
    }
    this.language.dataset.was = after;
    this.renderTexts();
  }

  reset(kind) {
    const { area } = this.texts.get(kind);
    area.value = this.panel.defaultText(kind, this.language.value);
    this.errors.delete(`templates.${kind}`);
    this.changed();
    this.renderTexts();
    this.status = () => t('groups.reset_done', { kind: t(`groups.kind.${kind}`) });
    this.renderNotes();
    area.focus();
  }

  /** OutboundSettings as the form has them. Texts go only for the kinds whose text is the
   * host's own: the others follow the default of the language (and its later fixes). */
  settingsBody() {
    const templates = {};
    for (const kind of KINDS) {
      if (this.isOwn(kind)) templates[kind] = this.texts.get(kind).area.value;
    }
    return {
      kinds: Object.fromEntries(KINDS.map((kind) => [kind, this.switches.get(kind).checked])),
      language: this.language.value,
      templates,
      referrer_id: this.referrer.value.trim() || null,
      whatsapp_template: this.whatsapp ? this.template.value.trim() || null : this.binding.outbound?.whatsapp_template ?? null,
    };
  }

  async save() {
    if (this.saving) return;
    this.saving = true;
    this.saveButton.disabled = true;
    this.errors.clear();
    this.formError = null;
    this.status = () => t('groups.saving');
    this.renderNotes();
    this.renderTexts();
    try {
      const binding = await this.panel.ingest(`${pathOf(this.binding)}/outbound`, { method: 'PUT', body: this.settingsBody() });
      this.binding = { ...this.binding, ...binding };
      this.fill(this.binding.outbound);
      this.status = () => t('groups.saved');
    } catch (error) {
      this.status = null;
      this.refused(error);
    } finally {
      this.saving = false;
      this.saveButton.disabled = false;
    }
    this.renderState();
    this.renderTexts();
    this.renderNotes();
  }

  /** A refused save: each reason next to its field (the first one focused). */
  refused(error) {
    if (error.status !== 422) {
      this.formError = () => (error.status === 404 ? t('groups.gone') : this.panel.errorText(error));
      return;
    }
    let first = null;
    const general = [];
    for (const { field, text } of fieldsAtFault(error)) {
      if (!field) {
        general.push(text);
        continue;
      }
      this.errors.set(field, [this.errors.get(field), text].filter(Boolean).join(' '));
      first ??= field;
    }
    if (general.length) this.formError = () => t('groups.refused', { detail: general.join(' ') });
    this.renderTexts();
    if (!first) return;
    const kind = first.startsWith('templates.') ? first.slice('templates.'.length) : null;
    this.settings.open = true;
    if (kind) {
      this.texts.get(kind).details.open = true;
      this.texts.get(kind).area.focus();
    } else {
      (first === 'referrer_id' ? this.referrer : this.template).focus();
    }
  }

  async resume() {
    this.status = null;
    this.formError = null;
    try {
      const binding = await this.panel.ingest(`${pathOf(this.binding)}/resume`, { method: 'POST' });
      this.binding = { ...this.binding, ...binding, paused: null };
      this.noted = () => t('groups.resumed', { chat: chatLabel(this.binding) });
    } catch (error) {
      this.noted = () => (error.status === 404 ? t('groups.gone') : this.panel.errorText(error));
    }
    this.renderState();
    this.renderNotes();
    // The Resume button is gone with the pause: focus goes to the group it was in.
    if (!this.binding.paused) this.title.focus();
  }

  // ---- what went out ----------------------------------------------------------------------

  async loadMessages() {
    try {
      this.messages = await this.panel.ingest(`${pathOf(this.binding)}/messages?limit=${RECENT}`);
      this.messagesError = null;
    } catch (error) {
      this.messagesError = error;
    }
    this.renderMessages();
  }

  renderMessages() {
    if (this.messagesError) {
      this.list.replaceChildren(el('li', { class: 'error', text: this.panel.errorText(this.messagesError) }));
      return;
    }
    if (this.messages === null) {
      this.list.replaceChildren(el('li', { class: 'muted', text: t('common.loading') }));
      return;
    }
    if (!this.messages.length) {
      this.list.replaceChildren(el('li', { class: 'muted', text: t('groups.messages_none') }));
      return;
    }
    this.list.replaceChildren(...this.messages.map((message) => {
      const state = LEDGER_STATES.includes(message.state) ? message.state : null;
      const at = message.sent_at || message.created_at;
      return el('li', { class: `group-message ${message.state}`, dataset: { state: message.state, kind: message.kind } },
        at ? el('time', { datetime: at, text: clock(at) }) : null,
        el('span', { class: 'kind-name', text: KINDS.includes(message.kind) ? t(`groups.kind.${message.kind}`) : message.kind }),
        el('span', { class: `badge state-${message.state}`, text: state ? t(`groups.state.${state}`) : message.state }),
        message.reason ? el('span', { class: 'reason', text: message.reason }) : null);
    }));
  }
}
