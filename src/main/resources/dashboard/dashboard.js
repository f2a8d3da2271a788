// bmcast fleet dashboard: plain JS, no build step. Talks to the controller's REST API (api/v1, the session
// cookie set by /login authenticates it) and draws with uPlot (the webjar the controller serves).
//
// How the page stays current, level-triggered like the controller itself:
//  - the event stream (SSE) says *what* changed; the page re-fetches those rows, coalesced, and never trusts
//    an event's text for state;
//  - a short poll re-reads instances that are still moving (progress is not an event), and a slow full
//    refresh reconciles whatever an event missed; when the stream drops, the full refresh turns fast and
//    events are polled until the stream is back;
//  - every view updates the DOM in place (one element per node and per instance, touched only on change),
//    so 1000 nodes cost nothing per event.
'use strict';

(() => {
  const API = 'api/v1/';
  const NODE_STATES = ['available', 'busy', 'scrubbing', 'offline', 'failed'];
  const INSTANCE_STATES = ['pending', 'scheduled', 'starting', 'streaming', 'devirtualized', 'stopped',
    'destroying', 'scrubbing', 'failed', 'unknown'];
  /** Instance states that change without an event of their own (progress) or are about to change. */
  const STATE_NAMES = new Set([...NODE_STATES, ...INSTANCE_STATES, 'deleted']);
  const MOVING = new Set(['pending', 'scheduled', 'starting', 'streaming', 'destroying', 'scrubbing']);
  const GOING_AWAY = new Set(['destroying', 'scrubbing', 'deleted']);
  const EVENTS_KEPT = 50;
  const CHART_SECONDS = 600;
  /** Above this many nodes, tiles shrink to coloured squares (details in their tooltip). */
  const DENSE_NODES = 150;

  // ---------------------------------------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function call(method, path, body) {
    let res;
    try {
      res = await fetch(API + path, {
        method,
        cache: 'no-store',
        credentials: 'same-origin',
        headers: body === undefined ? {Accept: 'application/json'}
            : {Accept: 'application/json', 'Content-Type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'The controller does not answer.');
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`.trim();
      try {
        const j = await res.json();
        if (j && j.error) message = j.error;
      } catch (ignored) { /* not JSON: keep the status line */ }
      throw new ApiError(res.status, message);
    }
    if (res.status === 204) return null;
    const type = res.headers.get('Content-Type') || '';
    return type.includes('json') ? res.json() : res.text();
  }

  /** The API answers lists as a bare array or as a {items: [...]} page: take either. */
  const list = x => Array.isArray(x) ? x : (x && Array.isArray(x.items) ? x.items : []);

  // ------------------------------------------------------------------------------------------ formats

  const CLOCK = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false});

  const fmt = {
    bytes(n) {
      if (!Number.isFinite(n) || n <= 0) return '0 B';
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
      return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
    },
    rate(n) { return `${fmt.bytes(n)}/s`; },
    pct(f) { return `${Math.round(Math.max(0, Math.min(1, f || 0)) * 100)}%`; },
    age(ms) {
      const s = Math.max(0, Math.floor(ms / 1000));
      if (s < 60) return `${s}s`;
      const m = Math.floor(s / 60);
      if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
      const h = Math.floor(m / 60);
      if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
      return `${Math.floor(h / 24)}d`;
    },
    clock(t) {
      const d = new Date(t);
      return Number.isNaN(d.getTime()) ? '' : CLOCK.format(d);
    },
  };

  const $ = id => document.getElementById(id);

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Sets a text only when it differs: writes to the DOM are what a 1000-node page must avoid. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function setAttr(node, name, value) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }

  const byNaturalName = new Intl.Collator(undefined, {numeric: true}).compare;

  // ------------------------------------------------------------------------------------------- banner

  /** One message at a time, the most important first: an expired session hides everything else. */
  const banner = {
    problems: new Map(),
    set(key, message) {
      this.problems.set(key, message);
      this.show();
    },
    clear(key) {
      if (this.problems.delete(key)) this.show();
    },
    show() {
      const box = $('banner');
      const first = this.problems.get('auth') || this.problems.values().next().value;
      box.hidden = !first;
      if (first) setText(box, first);
    },
    /** Files an API failure under the right heading; returns true when it was the session. */
    report(key, err) {
      if (err.status === 401) {
        this.set('auth', 'Your session expired, was revoked, or this browser never logged in: '
            + 'run `bmcast token login` for a one-time login link and open it.');
        return true;
      }
      if (err.status === 0) {
        this.set('net', 'The controller does not answer; retrying. The page keeps the last state it saw.');
        return false;
      }
      this.set(key, `${key}: ${err.message}`);
      return false;
    },
    ok(key) {
      this.clear('auth');
      this.clear('net');
      this.clear(key);
    },
  };

  // ------------------------------------------------------------------------------------------- counts

  function renderCounts(container, states, counts) {
    if (!container.firstChild) {
      for (const s of states) {
        const chip = el('span', 'chip');
        chip.dataset.state = s;
        chip.append(el('span', 'dot'), el('b', null, '0'), document.createTextNode(s));
        container.append(chip);
      }
    }
    for (const chip of container.children) {
      const n = (counts && counts[chip.dataset.state]) || 0;
      setText(chip.querySelector('b'), String(n));
      chip.classList.toggle('zero', n === 0);
    }
  }

  // ---------------------------------------------------------------------------------------- node grid

  /** One tile per node, created once, then only its changed attributes are written. */
  class NodeGrid {
    constructor(container, total, note) {
      this.container = container;
      this.total = total;
      this.note = note;
      this.tiles = new Map(); // name -> {el, sub, fill, node, frac}
      // Tooltips are built when a tile is pointed at: building 1000 of them per refresh would be waste.
      container.addEventListener('mouseover', e => {
        const tile = e.target.closest('.tile');
        const t = tile && this.tiles.get(tile.dataset.node);
        if (t) tile.title = tileTitle(t.node, t.node.instanceId ? instancesById.get(t.node.instanceId) : null);
      });
    }

    /** The whole node list: adds, updates and removes tiles; reorders only when the set of names changed. */
    replaceAll(nodes, instances) {
      let changedSet = nodes.length !== this.tiles.size;
      const seen = new Set();
      for (const n of nodes) {
        seen.add(n.name);
        if (!this.tiles.has(n.name)) changedSet = true;
        this.update(n, instances);
      }
      for (const [name, t] of this.tiles) {
        if (!seen.has(name)) { t.el.remove(); this.tiles.delete(name); }
      }
      if (changedSet) {
        const names = [...this.tiles.keys()].sort(byNaturalName);
        const frag = document.createDocumentFragment();
        for (const name of names) frag.append(this.tiles.get(name).el);
        this.container.append(frag);
      }
      this.container.classList.toggle('dense', this.tiles.size > DENSE_NODES);
      setText(this.total, `${this.tiles.size}`);
      this.note.hidden = this.tiles.size > 0;
      if (this.tiles.size === 0) setText(this.note, 'No node has joined yet: start an agent with the join token.');
    }

    update(n, instances) {
      let t = this.tiles.get(n.name);
      if (!t) {
        const tile = el('div', 'tile');
        tile.dataset.node = n.name;
        const sub = el('span', 'sub');
        const bar = el('div', 'bar');
        const fill = el('div', 'fill');
        bar.append(fill);
        tile.append(el('span', 'name', n.name), sub, bar);
        t = {el: tile, sub, fill, node: null, frac: -1};
        this.tiles.set(n.name, t);
        this.container.append(tile);
      }
      t.node = n;
      setAttr(t.el, 'data-state', n.state);
      setAttr(t.el, 'data-instance', n.instanceId || '');
      // The operator's flags: no new instances here (maintenance), or a scrub owed before any reuse.
      setAttr(t.el, 'data-maintenance', n.maintenance ? 'on' : '');
      setAttr(t.el, 'data-must-scrub', n.mustScrub ? 'on' : '');
      const inst = n.instanceId ? instances.get(n.instanceId) : null;
      setText(t.sub, n.instanceId ? shortId(n.instanceId) : n.mustScrub ? 'must scrub' : n.maintenance ? 'maintenance'
          : n.state === 'available' ? 'free' : n.state);
      this.progress(t, inst && !GOING_AWAY.has(inst.state) ? inst.fractionLocal : 0);
    }

    /** An instance changed: its node's progress bar follows without re-reading the node. */
    instanceChanged(inst) {
      const t = inst.node && this.tiles.get(inst.node);
      if (!t || !t.node || t.node.instanceId !== inst.id) return;
      this.progress(t, GOING_AWAY.has(inst.state) ? 0 : inst.fractionLocal);
    }

    progress(t, frac) {
      const f = Math.max(0, Math.min(1, frac || 0));
      if (Math.abs(f - t.frac) < 0.001) return;
      t.frac = f;
      t.fill.style.transform = `scaleX(${f})`;
    }

    unavailable(message) {
      this.note.hidden = false;
      setText(this.note, message);
    }
  }

  function tileTitle(n, inst) {
    const lines = [`${n.name}: ${n.state}` + (n.maintenance ? ', in maintenance (no new instances)' : '')
      + (n.mustScrub ? ', must be scrubbed before any reuse' : ''),
      `${fmt.bytes(n.diskBytes)} disk, ${fmt.bytes(n.memoryBytes)} memory, ${n.cpus} CPUs, ${n.accel || '?'}`
      + (n.simulated ? ' (hollow)' : '')];
    if (n.instanceId) {
      lines.push(`instance ${n.instanceId}` + (inst ? `: ${inst.state}, ${fmt.pct(inst.fractionLocal)} local` : ''));
    }
    if (n.lastHeartbeat) lines.push(`last heartbeat ${fmt.clock(n.lastHeartbeat)}`);
    return lines.join('\n');
  }

  function shortId(id) {
    return id.length > 14 ? `${id.slice(0, 13)}…` : id;
  }

  // ---------------------------------------------------------------------------------- instances table

  class InstanceTable {
    constructor(body, total, empty, onDestroy) {
      this.body = body;
      this.total = total;
      this.empty = empty;
      this.onDestroy = onDestroy;
      this.rows = new Map(); // id -> {tr, cells, inst, created, frac}
    }

    replaceAll(instances) {
      const seen = new Set();
      const fresh = [];
      for (const i of instances) {
        seen.add(i.id);
        if (!this.rows.has(i.id)) fresh.push(i);
        else this.update(i);
      }
      // Newest first: rows the page has not seen go on top, oldest of them lowest.
      fresh.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
      for (const i of fresh) this.update(i);
      for (const [id, r] of this.rows) {
        if (!seen.has(id)) { r.tr.remove(); this.rows.delete(id); }
      }
      this.summarize();
    }

    update(inst) {
      let r = this.rows.get(inst.id);
      if (!r) {
        r = this.create(inst);
        this.rows.set(inst.id, r);
        this.body.prepend(r.tr);
      }
      r.inst = inst;
      const c = r.cells;
      setText(c.project, inst.project || '');
      setText(c.image, inst.image || '');
      setText(c.node, inst.node || '—');
      setAttr(c.pill, 'data-state', inst.state);
      setText(c.state, inst.state);
      const why = inst.state === 'failed' || inst.state === 'unknown'
          ? (inst.reason || (inst.state === 'unknown' ? `node offline; last known ${inst.lastKnownState}` : '')) : '';
      setText(c.why, why ? ` ${why}` : '');
      setAttr(c.pill, 'title', why || inst.state);
      setText(c.demand, fmt.bytes(inst.bytesOnDemand));
      setText(c.background, fmt.bytes(inst.bytesBackground));
      // An image in the store: where its bytes came from; an NBD image has none of these.
      const fromStoreImage = (inst.chunksVerified || 0) + (inst.chunksRejected || 0) > 0;
      setText(c.sources, fromStoreImage ? `${fmt.bytes(inst.bytesFromPeers)} / ${fmt.bytes(inst.bytesFromStore)}` : '—');
      setAttr(c.sources, 'title', fromStoreImage ? `${fmt.bytes(inst.bytesFromPeers)} from peers, ${fmt.bytes(inst.bytesFromStore)} from the store, `
          + `${fmt.bytes(inst.bytesFromCache)} from this node's cache; ${inst.chunksVerified} chunks verified, ${inst.chunksRejected} rejected` : '');
      const f = Math.max(0, Math.min(1, inst.fractionLocal || 0));
      if (Math.abs(f - r.frac) >= 0.001) {
        r.frac = f;
        c.fill.style.transform = `scaleX(${f})`;
      }
      setText(c.pct, fmt.pct(f));
      r.created = Date.parse(inst.createdAt);
      setText(c.age, Number.isNaN(r.created) ? '' : fmt.age(Date.now() - r.created));
      r.tr.classList.toggle('gone', inst.state === 'deleted');
      const leaving = GOING_AWAY.has(inst.state);
      if (leaving) {
        c.destroy.disabled = true;
        c.destroy.classList.remove('confirm');
        setText(c.destroy, inst.state === 'deleted' ? 'deleted' : 'destroying');
      } else if (c.destroy.textContent === 'destroying' || c.destroy.textContent === 'deleted') {
        c.destroy.disabled = false;
        setText(c.destroy, 'Destroy');
      }
    }

    create(inst) {
      const tr = el('div', 'row');
      tr.setAttribute('role', 'row');
      tr.dataset.instance = inst.id;
      const cell = (cls, text) => {
        const td = el('span', cls, text);
        td.setAttribute('role', 'cell');
        tr.append(td);
        return td;
      };
      const c = {};
      cell('id', inst.id).title = inst.id;
      c.project = cell('project');
      c.image = cell('image');
      c.node = cell('node');
      const stateTd = cell('state-cell');
      c.pill = el('span', 'pill');
      c.state = el('span', 'state');
      c.why = el('span', 'why');
      c.pill.append(c.state, c.why);
      stateTd.append(c.pill);
      c.demand = cell('num demand');
      c.background = cell('num background');
      c.sources = cell('num sources');
      const localTd = cell('local');
      const progress = el('div', 'progress');
      const track = el('div', 'track');
      c.fill = el('div', 'fill');
      track.append(c.fill);
      c.pct = el('span', 'pct');
      progress.append(track, c.pct);
      localTd.append(progress);
      c.age = cell('num age');
      const actions = cell('actions');
      c.destroy = el('button', 'destroy', 'Destroy');
      c.destroy.type = 'button';
      c.destroy.addEventListener('click', () => this.destroyClicked(inst.id, c.destroy));
      actions.append(c.destroy);
      return {tr, cells: c, inst, created: NaN, frac: -1};
    }

    /** Two clicks: the first arms the button for a few seconds, the second destroys. */
    destroyClicked(id, button) {
      if (!button.classList.contains('confirm')) {
        button.classList.add('confirm');
        button.textContent = 'Confirm';
        clearTimeout(button.disarm);
        button.disarm = setTimeout(() => {
          if (button.classList.contains('confirm')) {
            button.classList.remove('confirm');
            button.textContent = 'Destroy';
          }
        }, 4000);
        return;
      }
      clearTimeout(button.disarm);
      button.classList.remove('confirm');
      button.disabled = true;
      button.textContent = 'destroying';
      this.onDestroy(id).catch(err => {
        button.disabled = false;
        button.textContent = 'Destroy';
        banner.report('Destroy', err);
      });
    }

    tickAges() {
      const now = Date.now();
      for (const r of this.rows.values()) {
        if (!Number.isNaN(r.created) && r.inst.state !== 'deleted') setText(r.cells.age, fmt.age(now - r.created));
      }
    }

    summarize() {
      let live = 0, peers = 0, store = 0, rejected = 0;
      for (const r of this.rows.values()) {
        if (r.inst.state !== 'deleted') live++;
        peers += r.inst.bytesFromPeers || 0;
        store += r.inst.bytesFromStore || 0;
        rejected += r.inst.chunksRejected || 0;
      }
      // Fleet-wide, over the instances listed: how much of the image traffic peers carried.
      const shared = peers + store > 0 ? `; ${fmt.bytes(peers)} from peers, ${fmt.bytes(store)} from the store`
          + (rejected ? `, ${rejected} chunks rejected` : '') : '';
      setText(this.total, `${live} live${shared}`);
      this.empty.hidden = live > 0;
    }

    moving() {
      const ids = [];
      for (const r of this.rows.values()) if (MOVING.has(r.inst.state)) ids.push(r.inst.id);
      return ids;
    }
  }

  // ---------------------------------------------------------------------------------------- event log

  class EventLog {
    constructor(container) {
      this.container = container;
      this.lastId = 0;
      // Ids seen, not only the highest: on PostgreSQL an event may commit after one with a higher id.
      this.seen = new Set();
    }

    /** Adds events the log has not shown; returns the new ones, oldest first. */
    add(events, highlight) {
      const fresh = events.filter(e => !this.seen.has(e.id)).sort((a, b) => a.id - b.id);
      for (const e of fresh) {
        this.seen.add(e.id);
        this.lastId = Math.max(this.lastId, e.id);
      }
      // A burst (a launch of 1000) shows its last events only: the rest would be pushed out at once.
      for (const e of fresh.slice(-EVENTS_KEPT)) {
        const li = el('li', highlight ? 'fresh' : '');
        li.dataset.event = String(e.id);
        const time = el('time', null, fmt.clock(e.at));
        time.dateTime = e.at || '';
        const what = el('span', 'what');
        // Types read "instance.streaming", "node.available": the part after the dot is a state when it names one.
        const kind = (e.type || '').split('.').pop();
        const dot = el('span', 'dot');
        if (STATE_NAMES.has(kind)) dot.dataset.state = kind;
        what.append(dot);
        const message = e.message || e.type || '';
        // Name what the event is about unless its message already does.
        for (const ref of [e.instanceId, e.node]) {
          if (ref && !message.includes(ref)) what.append(el('span', 'ref', shortId(ref)));
        }
        what.append(document.createTextNode(message));
        li.title = e.type || '';
        li.append(time, what);
        this.container.prepend(li);
      }
      while (this.container.children.length > EVENTS_KEPT) this.container.lastChild.remove();
      if (this.seen.size > 4 * EVENTS_KEPT) this.seen = new Set([...this.seen].sort((a, b) => b - a).slice(0, 2 * EVENTS_KEPT));
      return fresh;
    }
  }

  // -------------------------------------------------------------------------------------------- chart

  /** Launches and destroys per minute (left axis) and image-server bytes per second (right axis). */
  class ActivityChart {
    constructor(container) {
      this.container = container;
      this.data = [[], [], [], []];
      this.plot = null;
      if (typeof window.uPlot !== 'function') {
        container.append(el('p', 'note', 'The chart library (uPlot) did not load.'));
        return;
      }
      const axis = {
        stroke: '#8a95a3',
        grid: {stroke: 'rgba(255,255,255,0.06)', width: 1},
        ticks: {stroke: 'rgba(255,255,255,0.12)', width: 1},
        font: '11px system-ui, sans-serif',
      };
      this.plot = new window.uPlot({
        width: Math.max(300, container.clientWidth),
        height: 190,
        cursor: {drag: {x: false, y: false}, points: {size: 6}},
        legend: {live: true},
        scales: {x: {time: true}, n: {range: (u, min, max) => [0, Math.max(4, max * 1.15)]},
          b: {range: (u, min, max) => [0, Math.max(1024 * 1024, max * 1.15)]}},
        axes: [
          {...axis, space: 90, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600],
            values: (u, ticks) => ticks.map(t => fmt.clock(t * 1000))},
          {...axis, scale: 'n', label: 'per minute', labelSize: 18, labelFont: '11px system-ui, sans-serif',
            size: 44},
          {...axis, scale: 'b', side: 1, grid: {show: false}, size: 84,
            values: (u, ticks) => ticks.map(v => fmt.rate(v))},
        ],
        series: [
          {label: 'time', value: (u, v) => v == null ? '—' : fmt.clock(v * 1000)},
          {label: 'launches/min', scale: 'n', points: {show: false}, stroke: '#e6eaef', width: 1.6,
            value: (u, v) => v == null ? '—' : v.toFixed(1)},
          {label: 'destroys/min', scale: 'n', points: {show: false}, stroke: '#9aa5b3', width: 1.6, dash: [6, 4],
            value: (u, v) => v == null ? '—' : v.toFixed(1)},
          {label: 'image server', scale: 'b', points: {show: false}, stroke: 'rgba(122,150,190,0.9)', width: 1,
            fill: 'rgba(122,150,190,0.16)', value: (u, v) => v == null ? '—' : fmt.rate(v)},
        ],
      }, this.data, container);
      new ResizeObserver(() => {
        this.plot.setSize({width: Math.max(300, container.clientWidth), height: 190});
      }).observe(container);
    }

    add(summary, nowMs) {
      const d = this.data;
      d[0].push(nowMs / 1000);
      d[1].push(summary.launchesPerMinute || 0);
      d[2].push(summary.destroysPerMinute || 0);
      d[3].push(summary.bytesPerSecond || 0);
      const cutoff = nowMs / 1000 - CHART_SECONDS;
      while (d[0].length && d[0][0] < cutoff) for (const s of d) s.shift();
      if (!this.plot) return;
      this.plot.setData(d);
      // With the pointer away, the legend shows the latest values rather than dashes.
      if (this.plot.cursor.left == null || this.plot.cursor.left < 0) this.plot.setLegend({idx: d[0].length - 1});
    }
  }

  // -------------------------------------------------------------------------------------- launch form

  class LaunchForm {
    constructor(form, onLaunched) {
      this.form = form;
      this.image = $('launch-image');
      this.count = $('launch-count');
      this.submit = $('launch-submit');
      this.status = $('launch-status');
      this.onLaunched = onLaunched;
      form.addEventListener('submit', e => {
        e.preventDefault();
        this.launch();
      });
    }

    setImages(images) {
      const current = this.image.value;
      const names = images.map(i => i.name);
      const shown = [...this.image.options].map(o => o.value);
      if (names.join('\n') !== shown.join('\n')) {
        this.image.replaceChildren(...images.map(i => {
          const o = el('option', null, `${i.name} (${fmt.bytes(i.sizeBytes)})`);
          o.value = i.name;
          return o;
        }));
        if (names.includes(current)) this.image.value = current;
      }
      this.submit.disabled = images.length === 0;
      if (images.length === 0) this.say('No image yet: add one with `bmcast image add`.', false);
      else if (this.status.dataset.kind === 'noimage') this.say('', false);
      this.status.dataset.kind = images.length === 0 ? 'noimage' : '';
    }

    async launch() {
      const count = Number(this.count.value);
      if (!this.image.value) return this.say('Pick an image first.', true);
      if (!Number.isInteger(count) || count < 1) return this.say('The count is a whole number, at least 1.', true);
      this.submit.disabled = true;
      this.say(`launching ${count}…`, false);
      try {
        const launched = list(await call('POST', 'instances', {image: this.image.value, count}));
        this.say(`launched ${launched.length}`, false);
        clearTimeout(this.quiet);
        this.quiet = setTimeout(() => this.say('', false), 6000);
        this.onLaunched(launched);
      } catch (err) {
        if (!banner.report('Launch', err)) this.say(err.message, true);
        banner.clear('Launch');
      } finally {
        this.submit.disabled = this.image.options.length === 0;
      }
    }

    say(text, isError) {
      setText(this.status, text);
      this.status.classList.toggle('error', isError);
    }
  }

  // --------------------------------------------------------------------------------------------- sync

  const nodes = new Map();
  const instances = new Map();
  const instancesById = instances;
  let nodesVisible = true;
  let showDeleted = false;

  const grid = new NodeGrid($('nodes'), $('node-total'), $('nodes-note'));
  const table = new InstanceTable($('instances'), $('instance-total'), $('instances-empty'),
      id => call('DELETE', `instances/${encodeURIComponent(id)}`).then(inst => {
        if (inst && inst.id) applyInstance(inst);
        wantNodes();
      }));
  const log = new EventLog($('events'));
  const chart = new ActivityChart($('chart'));
  const form = new LaunchForm($('launch'), launched => {
    for (const i of launched) applyInstance(i);
    table.summarize();
    wantNodes();
  });

  $('show-deleted').addEventListener('change', e => {
    showDeleted = e.target.checked;
    document.querySelector('.instances').classList.toggle('show-deleted', showDeleted);
    loadInstances();
  });

  function applyInstance(inst) {
    instances.set(inst.id, inst);
    table.update(inst);
    grid.instanceChanged(inst);
  }

  async function loadInstances() {
    lastList.instances = Date.now();
    try {
      const all = list(await call('GET', showDeleted ? 'instances?all=true' : 'instances'));
      instances.clear();
      for (const i of all) instances.set(i.id, i);
      table.replaceAll(all);
      for (const i of all) grid.instanceChanged(i);
      banner.ok('Instances');
    } catch (err) {
      banner.report('Instances', err);
    }
  }

  async function loadInstance(id) {
    try {
      applyInstance(await call('GET', `instances/${encodeURIComponent(id)}`));
    } catch (err) {
      if (err.status === 404) {
        // Gone for good (or never ours): drop the row.
        instances.delete(id);
        const r = table.rows.get(id);
        if (r) { r.tr.remove(); table.rows.delete(id); }
      } else {
        banner.report('Instances', err);
      }
    }
  }

  async function loadNodes() {
    if (!nodesVisible) return;
    lastList.nodes = Date.now();
    try {
      const all = list(await call('GET', 'nodes'));
      nodes.clear();
      for (const n of all) nodes.set(n.name, n);
      grid.replaceAll(all, instances);
      banner.ok('Nodes');
    } catch (err) {
      if (err.status === 403) {
        nodesVisible = false;
        grid.unavailable('Nodes are shown to the operator only: this session holds a project token.');
      } else {
        banner.report('Nodes', err);
      }
    }
  }

  async function loadImages() {
    try {
      form.setImages(list(await call('GET', 'images')));
      banner.ok('Images');
    } catch (err) {
      banner.report('Images', err);
    }
  }

  async function loadSummary() {
    try {
      const s = await call('GET', 'summary');
      renderCounts($('node-counts'), NODE_STATES, s.nodes);
      renderCounts($('instance-counts'), INSTANCE_STATES, s.instances);
      chart.add(s, Date.now());
      banner.ok('Summary');
    } catch (err) {
      banner.report('Summary', err);
    }
  }

  // Coalescing: events and polls mark what is stale, and one flush fetches each stale thing once. Whole
  // lists (the instances when many changed, the nodes) are read at most once a second however many events
  // arrive: a launch of 1000 is thousands of events, and the page may lag a second behind them, no more.
  const LIST_EVERY_MS = 1000;
  const stale = {ids: new Set(), instances: false, nodes: false};
  const lastList = {instances: 0, nodes: 0};
  let flushTimer = 0;
  let flushing = false;

  function wantInstances(ids) {
    for (const id of ids) stale.ids.add(id);
    if (stale.ids.size > 8) {
      stale.instances = true;
      stale.ids.clear();
    }
    scheduleFlush(250);
  }

  function wantNodes() {
    stale.nodes = true;
    scheduleFlush(250);
  }

  function scheduleFlush(delayMs) {
    if (!flushTimer && !flushing) flushTimer = setTimeout(flush, delayMs);
  }

  async function flush() {
    flushTimer = 0;
    flushing = true;
    try {
      if (stale.instances && Date.now() - lastList.instances >= LIST_EVERY_MS) {
        stale.instances = false;
        stale.ids.clear();
        await loadInstances();
      } else if (!stale.instances && stale.ids.size) {
        const ids = [...stale.ids];
        stale.ids.clear();
        await Promise.all(ids.map(loadInstance));
        table.summarize();
      }
      if (stale.nodes && Date.now() - lastList.nodes >= LIST_EVERY_MS) {
        stale.nodes = false;
        await loadNodes();
      }
    } finally {
      flushing = false;
      if (stale.instances || stale.ids.size || stale.nodes) {
        const next = Math.min(stale.instances ? lastList.instances : Infinity, stale.nodes ? lastList.nodes : Infinity);
        scheduleFlush(Math.max(250, next + LIST_EVERY_MS - Date.now()));
      }
    }
  }

  function onEvents(events, highlight) {
    for (const e of log.add(events, highlight)) {
      if (e.instanceId) wantInstances([e.instanceId]);
      if (e.node || e.instanceId) wantNodes();
      if (e.type && e.type.startsWith('image')) loadImages();
    }
  }

  // The event stream, and the polling that stands in for it while it is down.
  const link = $('link');
  let stream = null;
  let streamLive = false;

  function setLink(kind, text) {
    setAttr(link, 'data-link', kind);
    setText(link, text);
  }

  function openStream() {
    if (typeof EventSource !== 'function') return setLink('polling', 'polling');
    stream = new EventSource(`${API}events/stream`);
    // Events are handled in batches of a tenth of a second: a burst costs one pass over the page, not one each.
    let batch = [];
    const handle = msg => {
      try {
        const e = JSON.parse(msg.data);
        if (!e || typeof e.id !== 'number') return;
        if (batch.push(e) === 1) {
          setTimeout(() => {
            const events = batch;
            batch = [];
            onEvents(events, true);
          }, 100);
        }
      } catch (ignored) { /* a keep-alive or a line this page does not know */ }
    };
    stream.onmessage = handle;
    stream.onopen = () => {
      const wasDown = !streamLive;
      streamLive = true;
      setLink('live', 'live');
      // Whatever happened while the stream was away: reconcile once.
      if (wasDown) refreshAll();
    };
    stream.onerror = () => {
      streamLive = false;
      setLink('down', 'stream lost: polling');
      if (stream.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error such as 401): poll, and try a new stream in a while.
        stream.close();
        stream = null;
        setTimeout(openStream, 10000);
      }
    };
    // Events sent with an "event:" name are not "message"s: listen to the names the API uses too.
    for (const name of ['event', 'instance', 'node', 'image']) stream.addEventListener(name, handle);
  }

  async function pollEvents() {
    try {
      // A little before the highest id seen: an event that committed late under a lower id is still picked up.
      const query = log.lastId > 0 ? `after=${Math.max(0, log.lastId - 20)}&limit=200` : `limit=${EVENTS_KEPT}`;
      onEvents(list(await call('GET', `events?${query}`)), log.lastId > 0);
      banner.ok('Events');
    } catch (err) {
      banner.report('Events', err);
    }
  }

  async function refreshAll() {
    await loadInstances();
    await loadNodes();
    await loadImages();
  }

  /** Runs fn every periodMs, never two at once, the next one periodMs after the last ended. */
  function every(periodMs, fn) {
    const loop = async () => {
      try { await fn(); } finally { setTimeout(loop, periodMs); }
    };
    loop();
  }

  let lastFull = Date.now();

  async function start() {
    await refreshAll();
    await pollEvents();
    openStream();
    every(1000, loadSummary);
    every(2000, async () => {
      if (!streamLive) await pollEvents();
      // A full reconcile: every 20 s while the stream is live, every 4 s while it is not.
      if (Date.now() - lastFull > (streamLive ? 20000 : 4000)) {
        lastFull = Date.now();
        return refreshAll();
      }
      // Instances still moving: their progress is not an event of its own (tiles follow their instance).
      wantInstances(table.moving());
    });
    setInterval(() => table.tickAges(), 1000);
  }

  start();
})();
