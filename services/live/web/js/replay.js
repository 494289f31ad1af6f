// The replay page (/r/{room_id}/replay): the recorded show as video on demand, with a
// chapter for each moment a product was pinned, its sale opened or it sold out.
import { $, api, el, show } from './common.js';
import { bindLanguageSelect, onLanguageChange, t, translatePage } from './i18n.js';
import { Player } from './player.js';

const roomId = decodeURIComponent(window.location.pathname.split('/').filter(Boolean)[1] || '');

const state = { room: null, replay: null, current: -1 };
let player = null;

async function init() {
  translatePage();
  bindLanguageSelect($('#lang'));
  onLanguageChange(render);
  $('#back-to-room').href = `/r/${encodeURIComponent(roomId)}`;
  const video = $('#video');
  player = new Player({ video, live: false, onChange: () => {} });
  window.qunlivePlayer = Object.defineProperties({}, {
    state: { enumerable: true, get: () => player.status },
    latencyS: { enumerable: true, get: () => null }, // a recording: no live edge to be behind
    stats: { value: () => player.stats() },
    player: { value: player },
  });
  video.addEventListener('loadedmetadata', renderTimeline);
  video.addEventListener('durationchange', renderTimeline);
  video.addEventListener('timeupdate', followChapter);
  try {
    [state.room, state.replay] = await Promise.all([
      api('', `/rooms/${encodeURIComponent(roomId)}`).catch(() => null),
      api('', `/rooms/${encodeURIComponent(roomId)}/replay`),
    ]);
  } catch (error) {
    show($('#loading'), false);
    const missing = error.status === 404;
    $('#problem-title').textContent = t(missing ? 'replay.none_title' : 'err.network');
    $('#problem-text').textContent = missing ? t('replay.none_text') : error.message;
    show($('#problem'));
    return;
  }
  show($('#loading'), false);
  show($('#replay'));
  render();
  player.play({ url: new URL(state.replay.url, window.location.href).toString() });
}

function chapters() {
  return [...(state.replay?.chapters || [])].sort((a, b) => a.at_s - b.at_s);
}

function render() {
  if (state.room) {
    $('#room-title').textContent = state.room.title;
    document.title = `${t('replay.badge')} · ${state.room.title} · Qunlive`;
  }
  if (!state.replay) return;
  const list = chapters();
  show($('#no-chapters'), list.length === 0);
  $('#chapters').replaceChildren(...list.map((chapter, index) => el('li', {},
    el('button', {
      type: 'button',
      class: 'chapter',
      'aria-current': index === state.current ? 'true' : false,
      dataset: { at: String(chapter.at_s), kind: chapter.kind },
      onclick: () => seek(chapter, index),
    },
    el('span', { class: 'at', text: timecode(chapter.at_s) }),
    el('span', { class: `badge kind-${chapter.kind}`, text: t(`replay.kind_${chapter.kind}`) }),
    el('span', { class: 'title', text: chapter.title || '' })))));
  renderTimeline();
}

function seek(chapter, index) {
  player.seek(chapter.at_s);
  state.current = index;
  $('#replay-status').textContent = t('replay.jumped', { at: timecode(chapter.at_s), title: chapter.title || '' });
  markCurrent();
}

/** The chapter the playback is in (the last one that started), marked in the list. */
function followChapter() {
  const now = $('#video').currentTime;
  let current = -1;
  chapters().forEach((chapter, index) => {
    if (chapter.at_s <= now + 0.25) current = index;
  });
  if (current !== state.current) {
    state.current = current;
    markCurrent();
  }
  const total = length();
  if (total) $('#timeline-played').style.width = `${Math.min(100, (100 * now) / total)}%`;
}

function markCurrent() {
  $('#chapters').querySelectorAll('button.chapter').forEach((button, index) => {
    if (index === state.current) button.setAttribute('aria-current', 'true');
    else button.removeAttribute('aria-current');
  });
}

/** The replay's length: its duration, or while the show still records, what is there. */
function length() {
  const video = $('#video');
  if (Number.isFinite(video.duration) && video.duration > 0) return video.duration;
  if (video.seekable.length) return video.seekable.end(video.seekable.length - 1);
  const last = chapters().at(-1);
  return last ? last.at_s + 1 : 0;
}

function renderTimeline() {
  const total = length();
  const line = $('#timeline');
  for (const mark of line.querySelectorAll('.mark')) mark.remove();
  if (!total) return;
  for (const chapter of chapters()) {
    const mark = el('span', { class: `mark ${chapter.kind}`, title: chapter.title || '' });
    mark.style.left = `${Math.min(100, (100 * chapter.at_s) / total)}%`;
    line.append(mark);
  }
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function timecode(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

init().catch((error) => {
  show($('#loading'), false);
  $('#problem-title').textContent = t('err.unexpected');
  $('#problem-text').textContent = String(error);
  show($('#problem'));
});
