/**
 * The dashboard page: listens to the server's event stream (/events, one message every 100 ms, aggregated on
 * the server: model.ts) and keeps four things on screen: queues, workers, the lane timeline, the last failures.
 *
 * Cheap by construction, so a frame stays well under 16 ms at thousands of tasks a second: a message only
 * writes a table cell whose text changed; the timeline is one canvas redrawn in requestAnimationFrame from a few
 * segments per lane (the server folds short tasks together), never one DOM node per task.
 *
 * window.dashboardPerf counts the script time per frame and the long tasks the browser saw (the test reads it).
 */
const WINDOW_MS = 30_000;
const FAILURES_SHOWN = 10;
const LANE_HEIGHT = 18;
const COLOURS = {
  succeeded: '#16a34a',
  retried: '#d97706',
  lost: '#7c3aed',
  failed: '#dc2626',
  running: '#2563eb',
};
// Drawn in this order: a failure shows over the successes folded around it, a running bar over everything.
const DRAW_ORDER = ['succeeded', 'retried', 'lost', 'failed', 'running'];

const $ = (selector) => document.querySelector(selector);
const format = (n) => Math.round(n).toLocaleString('en-US');

/** Script time per frame, ms: what this page's own code costs, message handling included. */
const perf = {
  frames: 0,
  messages: 0,
  frameScriptMs: [],
  longTasks: 0,
  longestTaskMs: 0,
  /** From now on: to measure a steady state, after the page's start-up. */
  reset() {
    Object.assign(perf, { frames: 0, messages: 0, frameScriptMs: [], longTasks: 0, longestTaskMs: 0 });
  },
};
window.dashboardPerf = perf;
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      perf.longTasks++;
      perf.longestTaskMs = Math.max(perf.longestTaskMs, entry.duration);
    }
  }).observe({ type: 'longtask' });
} catch {
  // A browser without the Long Tasks API: the per-frame figures still count.
}

const segments = new Map();
let laneIndex = new Map();
let laneKeys = '';
/** The server's clock minus ours: bars are drawn on the server's time, whatever this machine's clock says. */
let offset = 0;
let timelineDirty = true;
let pendingScriptMs = 0;
const serverNow = () => Date.now() + offset;

// ── The stream ─────────────────────────────────────────────────────────────────────────────────────────────

const status = $('#status');
function setStatus(state, text) {
  if (status.dataset.state !== state) status.dataset.state = state;
  if (status.textContent !== text) status.textContent = text;
}

const events = new EventSource('events');
events.onopen = () => setStatus('live', 'live');
events.onerror = () => setStatus('connecting', 'reconnecting… (is the dashboard still running?)');
events.onmessage = (event) => {
  const started = performance.now();
  apply(JSON.parse(event.data));
  perf.messages++;
  pendingScriptMs += performance.now() - started;
};

/** `?queue=NAME` (the link demos print: the monitor's dashboardLink) shows that queue alone. */
const onlyQueue = new URLSearchParams(location.search).get('queue');
const mine = (list, field) => (onlyQueue ? list.filter((item) => item[field] === onlyQueue) : list);

function apply(message) {
  offset = message.now - Date.now();
  if (message.reset) segments.clear();
  for (const segment of message.segments) segments.set(segment.id, segment);
  if (message.segments.length > 0 || message.reset) timelineDirty = true;
  renderQueues(mine(message.queues, 'name'));
  renderWorkers(mine(message.workers, 'queue'));
  renderFailures(mine(message.failures, 'queue'));
  if (message.problem) setStatus('problem', message.problem);
  else setStatus('live', 'live');
}

// ── Tables: keyed rows, a cell written only when its text changes ─────────────────────────────────────────

function setCell(cell, text, value) {
  if (cell.textContent !== text) cell.textContent = text;
  if (value !== undefined && cell.dataset.value !== String(value)) cell.dataset.value = String(value);
}

function syncRows(tbody, items, keyOf, attribute, fields) {
  const rows = tbody._rows ?? new Map();
  tbody._rows = rows;
  const seen = new Set();
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let row = rows.get(key);
    if (!row) {
      const tr = document.createElement('tr');
      tr.dataset[attribute] = key;
      const cells = {};
      for (const field of fields) {
        const td = document.createElement('td');
        td.dataset.field = field;
        tr.append(td);
        cells[field] = td;
      }
      row = { tr, cells, memo: {} };
      rows.set(key, row);
      tbody.append(tr);
    }
    row.item = item;
  }
  for (const [key, row] of rows) {
    if (!seen.has(key)) {
      row.tr.remove();
      rows.delete(key);
    }
  }
  return [...rows.values()];
}

const QUEUE_FIELDS = [
  'name',
  'waiting',
  'active',
  'delayed',
  'dead',
  'succeeded',
  'failed',
  'lost',
  'inRate',
  'outRate',
  'history',
  'app',
];
const NUMBER_FIELDS = [
  'waiting',
  'active',
  'delayed',
  'dead',
  'succeeded',
  'failed',
  'lost',
  'inRate',
  'outRate',
];

function renderQueues(queues) {
  for (const row of syncRows($('#queues tbody'), queues, (q) => q.name, 'queue', QUEUE_FIELDS)) {
    const q = row.item;
    setCell(row.cells.name, q.name);
    for (const field of NUMBER_FIELDS) setCell(row.cells[field], format(q[field]), Math.round(q[field]));
    const history = JSON.stringify(q.history);
    if (row.memo.history !== history) {
      row.memo.history = history;
      row.cells.history.replaceChildren(sparkline(q.history));
    }
    const app = q.app
      ? `${q.app.name}: p50 ${q.app.p50Ms.toFixed(1)} ms, p99 ${q.app.p99Ms.toFixed(1)} ms, ${format(q.app.rps)} req/s`
      : '—';
    setCell(row.cells.app, app);
  }
  syncQueueChoice(queues.map((q) => q.name));
  const sampled = queues.some((q) => q.sampled);
  if ($('#sampled').hidden === sampled) $('#sampled').hidden = !sampled;
}

/** 120 × 26 px: waiting as an area; in and out per second as lines, on one scale of their own. */
function sparkline(history) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const [w, h] = [120, 26];
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('width', w);
  svg.setAttribute('height', h);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  if (history.length < 2) return svg;
  const x = (i) => ((i / (history.length - 1)) * w).toFixed(1);
  const scale = (values) => {
    const top = Math.max(1, ...values);
    return (v) => (h - 1 - (v / top) * (h - 2)).toFixed(1);
  };
  const waitingY = scale(history.map((p) => p.waiting));
  const rateY = scale(history.flatMap((p) => [p.inRate, p.outRate]));
  const area = document.createElementNS(ns, 'polygon');
  area.setAttribute(
    'points',
    `0,${h} ${history.map((p, i) => `${x(i)},${waitingY(p.waiting)}`).join(' ')} ${w},${h}`,
  );
  const line = (field, className) => {
    const polyline = document.createElementNS(ns, 'polyline');
    polyline.setAttribute('class', className);
    polyline.setAttribute('points', history.map((p, i) => `${x(i)},${rateY(p[field])}`).join(' '));
    return polyline;
  };
  const last = history[history.length - 1];
  const title = document.createElementNS(ns, 'title');
  title.textContent = `waiting ${format(last.waiting)} (area), in ${format(last.inRate)}/s (dashed), out ${format(last.outRate)}/s`;
  svg.append(title, area, line('inRate', 'in'), line('outRate', 'out'));
  return svg;
}

const WORKER_FIELDS = [
  'worker',
  'queue',
  'pool',
  'concurrency',
  'lanes',
  'inFlight',
  'done',
  'failed',
  'retried',
  'heartbeat',
];

function renderWorkers(workers) {
  const now = serverNow();
  for (const row of syncRows($('#workers tbody'), workers, (w) => w.id, 'worker', WORKER_FIELDS)) {
    const w = row.item;
    setCell(row.cells.worker, `${w.host}:${w.pid}`);
    row.cells.worker.title = w.id;
    setCell(row.cells.queue, w.queue);
    setCell(row.cells.pool, w.pool);
    setCell(
      row.cells.concurrency,
      w.processes ? `${w.concurrency} in ${w.processes} processes` : String(w.concurrency),
    );
    setCell(row.cells.lanes, String(w.lanes.length), w.lanes.length);
    for (const field of ['inFlight', 'done', 'failed', 'retried'])
      setCell(row.cells[field], format(w[field]), w[field]);
    setCell(row.cells.heartbeat, `${(Math.max(0, now - w.beatAt) / 1000).toFixed(1)} s ago`);
  }
  $('#no-workers').hidden = workers.length > 0;
  renderLaneLabels(workers);
}

let laneLabels = new Map();
function renderLaneLabels(workers) {
  const lanes = workers.flatMap((w) => w.lanes.map((lane, i) => ({ worker: w, lane, first: i === 0 })));
  const keys = lanes.map((l) => l.lane.key).join('\n');
  if (keys !== laneKeys) {
    laneKeys = keys;
    laneIndex = new Map(lanes.map((l, i) => [l.lane.key, i]));
    laneLabels = new Map();
    $('#lane-labels').replaceChildren(
      ...lanes.map(({ worker, lane, first }) => {
        const div = document.createElement('div');
        div.className = first ? 'lane first' : 'lane';
        div.dataset.lane = lane.key;
        div.dataset.worker = worker.id;
        div.textContent = `${worker.pool} ${worker.pid} · ${lane.name}`;
        laneLabels.set(lane.key, div);
        return div;
      }),
    );
    timelineDirty = true;
  }
  // What each lane runs, as of the worker's last heartbeat (the bars are newer: they come from the events).
  for (const { lane } of lanes) {
    const div = laneLabels.get(lane.key);
    const task = lane.task ? lane.task.id : '';
    if (div.dataset.task === task) continue;
    div.dataset.task = task;
    div.title = lane.task ? `${lane.task.name} ${lane.task.id}` : 'idle';
  }
}

function renderFailures(failures) {
  const list = $('#failures');
  const key = failures.map((f) => `${f.id}:${f.at}:${f.type}`).join();
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(
    ...failures.slice(0, FAILURES_SHOWN).map((f) => {
      const li = document.createElement('li');
      li.dataset.id = f.id;
      li.className = `type-${f.type}`;
      const when = new Date(f.at).toLocaleTimeString('en-GB');
      const head = document.createElement('span');
      head.textContent = `${when} ${f.type} ${f.task} (${f.queue}, attempt ${f.attempt + 1}, ${f.id.slice(0, 8)}): `;
      const reason = document.createElement('span');
      reason.className = 'reason';
      reason.textContent = f.error;
      li.append(head, reason);
      return li;
    }),
  );
  $('#no-failures').hidden = failures.length > 0;
}

// ── Sample batches ─────────────────────────────────────────────────────────────────────────────────────────

const queueChoice = $('#sample-queue');
function syncQueueChoice(names) {
  const have = [...queueChoice.options].map((o) => o.value);
  for (const name of names) {
    if (!have.includes(name)) queueChoice.append(new Option(name, name));
  }
}

fetch('samples')
  .then((reply) => reply.json())
  .then(({ samples, queue }) => {
    const chosen = onlyQueue ?? queue;
    syncQueueChoice([chosen]);
    queueChoice.value = chosen;
    $('#sample-buttons').replaceChildren(
      ...samples.map((sample) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.task = sample.task;
        button.textContent = sample.task;
        button.title = sample.describe;
        button.onclick = () => enqueueSample(sample.task);
        return button;
      }),
    );
  });

async function enqueueSample(task) {
  const result = $('#sample-result');
  const reply = await fetch('enqueue', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task, queue: queueChoice.value }),
  });
  if (!reply.ok) {
    result.textContent = await reply.text();
    return;
  }
  const done = await reply.json();
  result.textContent = `enqueued ${done.count} × ${done.task} on ${done.queue}`;
}

// ── The timeline ───────────────────────────────────────────────────────────────────────────────────────────

const canvas = $('#lanes');
const context = canvas.getContext('2d');
let lastPrune = 0;

function drawTimeline(now) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = laneIndex.size * LANE_HEIGHT;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = `${height}px`;
  }
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const from = now - WINDOW_MS;
  const x = (t) => ((t - from) / WINDOW_MS) * width;
  // A faint line every 5 s, so a bar's length reads as time.
  context.fillStyle = '#f1f5f9';
  for (let t = Math.ceil(from / 5000) * 5000; t < now; t += 5000) context.fillRect(x(t), 0, 1, height);
  const byState = { succeeded: [], retried: [], lost: [], failed: [], running: [] };
  let running = false;
  for (const segment of segments.values()) {
    const row = laneIndex.get(segment.lane);
    if (row === undefined) continue;
    const end = segment.state === 'running' ? now : segment.end;
    if (end < from) continue;
    if (segment.state === 'running') running = true;
    byState[segment.state]?.push(row, segment.start, end);
  }
  for (const state of DRAW_ORDER) {
    const list = byState[state];
    context.fillStyle = COLOURS[state];
    for (let i = 0; i < list.length; i += 3) {
      const left = Math.max(0, x(list[i + 1]));
      context.fillRect(
        left,
        list[i] * LANE_HEIGHT + 3,
        Math.max(1.5, x(list[i + 2]) - left),
        LANE_HEIGHT - 6,
      );
    }
  }
  return running;
}

/**
 * Segments out of the window, or of lanes gone for 5 s (their worker stopped or died). Not at once: a new lane
 * (a prefork child just replaced) is in the events before its worker's next heartbeat names it.
 */
function prune(now) {
  const from = now - WINDOW_MS;
  for (const [id, segment] of segments) {
    const gone = !laneIndex.has(segment.lane) && segment.end < now - 5000;
    if ((segment.state !== 'running' && segment.end < from) || gone) segments.delete(id);
  }
}

let running = false;
let lastDraw = 0;
function frame() {
  requestAnimationFrame(frame);
  const started = performance.now();
  const now = serverNow();
  if (now - lastPrune > 1000) {
    lastPrune = now;
    prune(now);
    timelineDirty = true;
  }
  // Running bars grow, and everything slides left: redraw while anything is in the window, every frame while a
  // bar grows, else 20 times a second (a slide of ~2 px a step): a page left open on a projector costs little.
  if (timelineDirty || running || (segments.size > 0 && now - lastDraw >= 50)) {
    running = drawTimeline(now);
    lastDraw = now;
    timelineDirty = false;
  }
  const spent = performance.now() - started + pendingScriptMs;
  pendingScriptMs = 0;
  perf.frames++;
  perf.frameScriptMs.push(spent);
  if (perf.frameScriptMs.length > 1200) perf.frameScriptMs.splice(0, 600);
}
requestAnimationFrame(frame);
