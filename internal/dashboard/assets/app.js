// strangler's migration dashboard: renders each snapshot of api/dashboard
// that live.js delivers. Every value from the server is written with
// textContent or as an attribute value, never parsed as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // --- formatting ---

  const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const DASH = '—';

  const missing = (x) => x === null || x === undefined || !Number.isFinite(x);

  // pct formats a share 0..1 as a percentage with sensible precision.
  function pct(x) {
    if (missing(x)) return DASH;
    const p = x * 100;
    if (p === 0 || p === 100) return `${p}%`;
    if (p < 0.1) return '<0.1%';
    if (p > 99.9) return '>99.9%';
    return `${p < 10 || p > 99 ? p.toFixed(1) : p.toFixed(0)}%`;
  }

  // weight formats a configured percentage 0..100 (resolution 0.01).
  const weight = (w) => (missing(w) ? DASH : `${Number(w.toFixed(2))}%`);

  function rate(r) {
    if (missing(r)) return DASH;
    if (r === 0) return '0';
    if (r < 0.1) return r.toFixed(2);
    if (r < 10) return r.toFixed(1);
    return integer.format(r);
  }

  function duration(seconds) {
    if (missing(seconds)) return DASH;
    const ms = seconds * 1000;
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  }

  const count = (n) => (missing(n) ? DASH : integer.format(n));

  const pad = (n) => String(n).padStart(2, '0');

  // clock formats a time in the browser's zone; the date is added when it
  // is not the day of ref.
  function clock(d, ref) {
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    if (ref && d.toDateString() === ref.toDateString()) return time;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 5) return 'just now';
    if (s < 60) return `${s} s ago`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${m % 60} min ago`;
    return `${Math.floor(h / 24)} days ago`;
  }

  // --- DOM helpers ---

  // el creates an element; attrs may hold class, text, and attributes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  }

  // setText writes text and sets or clears the given state classes.
  function setText(e, text, classes) {
    if (e.textContent !== text) e.textContent = text;
    for (const [name, on] of Object.entries(classes || {})) e.classList.toggle(name, Boolean(on));
  }

  // timeEl shows an instant as local clock time, the full time as tooltip.
  function timeEl(iso, ref) {
    const d = new Date(iso);
    return el('time', { datetime: iso, title: d.toString(), text: clock(d, ref) });
  }

  function setBar(fill, share) {
    fill.style.width = `${missing(share) ? 0 : Math.min(100, Math.max(0, share * 100))}%`;
  }

  // --- routes ---

  const SIDES = ['legacy', 'extracted'];
  const SIDE_FIELDS = ['rps', 'errors', 'p50', 'p99'];

  // numCell makes a numeric cell with a data-field hook.
  const numCell = (field, cls) => el('td', { class: `num ${cls || ''}`.trim(), 'data-field': field });

  // updateSide writes one side's figures into cells keyed by data-field.
  function updateSide(cells, side, s) {
    const rps = cells[`${side}-rps`];
    setText(rps, s ? rate(s.requests_per_second) : DASH);
    rps.title = s ? `${count(s.requests)} requests in the window` : '';
    setText(cells[`${side}-errors`], s ? pct(s.error_rate) : DASH, { bad: s && s.error_rate > 0 });
    setText(cells[`${side}-p50`], s ? duration(s.p50_seconds) : DASH);
    setText(cells[`${side}-p99`], s ? duration(s.p99_seconds) : DASH);
  }

  // RouteRow is the row of one route of routes.yaml.
  class RouteRow {
    constructor(name) {
      this.kind = 'route';
      this.tr = el('tr', { 'data-route': name });
      this.cells = {};
      this.route = el('td', { class: 'route-cell', 'data-field': 'route' });
      this.weight = el('span', { 'data-field': 'weight' });
      this.served = el('span', { 'data-field': 'served' });
      this.fill = el('span', { class: 'split-fill' });
      this.marker = el('span', { class: 'split-marker' });
      const split = el('td', { class: 'split-cell', 'data-field': 'split' },
        el('div', { class: 'split-text' }, this.weight, ' weight · ', this.served, ' served'),
        el('div', { class: 'split-bar', 'aria-hidden': 'true' }, this.fill, this.marker));
      this.tr.append(this.route, split);
      for (const side of SIDES) {
        SIDE_FIELDS.forEach((f, i) => {
          const c = numCell(`${side}-${f}`, `s-${side}${i === 0 ? ' first' : ''}`);
          this.cells[`${side}-${f}`] = c;
          this.tr.append(c);
        });
      }
      this.breaker = el('span', { class: 'badge', 'data-field': 'breaker' });
      this.targets = numCell('targets');
      this.fallbacks = numCell('fallbacks');
      this.shadow = numCell('shadow');
      this.tr.append(el('td', { class: 'first' }, this.breaker), this.targets, this.fallbacks, this.shadow);
    }

    update(r, windowSeconds) {
      this.route.replaceChildren(...routeCell(r));
      this.tr.classList.toggle('moved', Boolean(r.moved));
      setText(this.weight, weight(r.weight));
      setText(this.served, pct(r.served_share));
      setBar(this.fill, r.served_share);
      this.marker.style.left = `${Math.min(100, Math.max(0, r.weight || 0))}%`;
      this.marker.title = `configured weight ${weight(r.weight)}`;
      for (const side of SIDES) updateSide(this.cells, side, r[side]);
      this.markWorse(r.legacy, r.extracted);
      const state = r.breaker || 'unknown';
      setText(this.breaker, state);
      this.breaker.className = `badge badge-${state}`;
      this.breaker.dataset.state = state;
      const healthy = r.healthy_targets ?? 0;
      const targets = r.targets ?? 0;
      setText(this.targets, `${healthy}/${targets}`, { bad: targets > 0 && healthy === 0, warn: healthy > 0 && healthy < targets });
      setText(this.fallbacks, count(r.fallbacks), { warn: r.fallbacks > 0 });
      this.fallbacks.title = `requests in the last ${windowSeconds} s the service could not take that legacy served`;
      this.updateShadow(r, windowSeconds);
    }

    // markWorse flags the extracted side's figures clearly worse than legacy's.
    markWorse(legacy, extracted) {
      const worse = (a, b, factor, slack) => !missing(a) && !missing(b) && b > a * factor + slack;
      const l = legacy || {};
      const e = extracted || {};
      this.cells['extracted-errors'].classList.toggle('worse', worse(l.error_rate, e.error_rate, 1, 0.01));
      this.cells['extracted-p99'].classList.toggle('worse', worse(l.p99_seconds, e.p99_seconds, 1.5, 0.005));
    }

    // updateShadow shows the route's shadow results over the window, as
    // every other figure of the row, so that parity and the warning
    // recover once a fixed difference has left it. The counts since the
    // proxy started are in the tooltip, and the parity since then under
    // the window's once mismatches have left the window.
    updateShadow(r, windowSeconds) {
      const sh = r.shadow;
      if (!sh) {
        setText(this.shadow, DASH, { na: true });
        delete this.shadow.dataset.failing;
        return;
      }
      const total = r.shadow_since_start || sh;
      const { failing, problems } = shadowProblems(sh);
      let text = missing(sh.parity) ? 'none yet' : pct(sh.parity);
      if (missing(sh.parity) && problems.length) text = 'not compared';
      else if (missing(sh.parity) && !missing(total.parity)) text = `none in ${windowSeconds} s`;
      const link = el('a', { href: `api/shadow/${encodeURIComponent(r.name)}`, text });
      link.title = `last ${windowSeconds} s: ${shadowCounts(sh)}\n` +
        `since the proxy started: ${shadowCounts(total)}, parity ${pct(total.parity)}\n` +
        'open the recent differences';
      const out = [link, el('div', { class: 'detail', 'data-field': 'shadow-counts', text: `${count(sh.match)} same · ${count(sh.mismatch)} diff` })];
      if (problems.length) out.push(el('div', { class: `detail${failing ? ' problems' : ''}`, 'data-field': 'shadow-problems', text: problems.join(' · ') }));
      if ((total.mismatch || 0) > (sh.mismatch || 0)) {
        out.push(el('div', { class: 'detail since-start', 'data-field': 'shadow-since-start',
          text: `since start ${pct(total.parity)} · ${count(total.mismatch)} diff` }));
      }
      this.shadow.classList.remove('na');
      this.shadow.classList.toggle('warn', sh.mismatch > 0 || failing);
      this.shadow.dataset.failing = String(failing);
      this.shadow.replaceChildren(...out);
    }
  }

  // shadowCounts spells out a span's shadow results, for a tooltip.
  function shadowCounts(sh) {
    return `${count(sh.match || 0)} matched, ${count(sh.mismatch || 0)} differed, ${count(sh.error || 0)} failed, ` +
      `${count(sh.dropped || 0)} dropped (queue full), ${count(sh.skipped || 0)} not comparable`;
  }

  // shadowProblems lists a route's shadow copies that were not compared
  // (failed, dropped, not comparable), and says whether they outnumber the
  // comparisons: parity then says little about the service.
  function shadowProblems(sh) {
    const error = sh.error || 0;
    const dropped = sh.dropped || 0;
    const skipped = sh.skipped || 0;
    const problems = [];
    if (error > 0) problems.push(`${count(error)} failed`);
    if (dropped > 0) problems.push(`${count(dropped)} dropped`);
    if (skipped > 0) problems.push(`${count(skipped)} skipped`);
    const failing = error + dropped + skipped > (sh.match || 0) + (sh.mismatch || 0);
    return { failing, problems };
  }

  // routeCell returns the contents of a route's first cell: name, prefix,
  // service and its options.
  function routeCell(r) {
    const tags = [];
    if (r.moved) tags.push(el('span', { class: 'tag tag-moved', text: 'moved' }));
    if (r.methods && r.methods.length) tags.push(el('span', { class: 'tag', title: 'only these methods move', text: `${r.methods.join(' ')} only` }));
    if (r.sticky) tags.push(el('span', { class: 'tag', title: 'sticky split', text: `sticky ${r.sticky}` }));
    if (r.fallback === false && !r.default) tags.push(el('span', { class: 'tag tag-warn', text: 'no fallback' }));
    const path = r.default
      ? el('div', { class: 'path' }, el('code', { text: r.prefix || '/' }), ' → legacy')
      : el('div', { class: 'path' }, el('code', { text: r.prefix }), ' → ', el('span', { class: 'service', 'data-field': 'service', text: r.service }));
    const out = [el('div', { class: 'name', 'data-field': 'name', text: r.name }), path];
    if (tags.length) out.push(el('div', { class: 'tags' }, ...tags));
    return out;
  }

  // CatchAllRow is the row of the catch-all route: legacy only.
  class CatchAllRow {
    constructor(name) {
      this.kind = 'catch-all';
      this.tr = el('tr', { 'data-route': name, 'data-default': 'true', class: 'catch-all' });
      this.route = el('td', { class: 'route-cell', 'data-field': 'route' });
      this.cells = {};
      this.tr.append(this.route, el('td', { class: 'split-cell' }, el('span', { class: 'tag', 'data-field': 'weight', text: 'legacy only' })));
      SIDE_FIELDS.forEach((f, i) => {
        const c = numCell(`legacy-${f}`, `s-legacy${i === 0 ? ' first' : ''}`);
        this.cells[`legacy-${f}`] = c;
        this.tr.append(c);
      });
      this.tr.append(el('td', { colspan: '8', class: 'catch-all-note first' },
        'Every request no route moves: served by the legacy app. Its busiest paths are in the inventory below.'));
    }

    update(r) {
      this.route.replaceChildren(...routeCell(r));
      updateSide(this.cells, 'legacy', r.legacy);
    }
  }

  // Keyed rows: each snapshot reuses, reorders, creates and removes rows by
  // route name, so a reload that adds, removes or renames routes never
  // leaves a stale row.
  const routeRows = new Map();

  function renderRoutes(routes, windowSeconds) {
    const body = $('routes-body');
    const ordered = routes.filter((r) => !r.default).concat(routes.filter((r) => r.default));
    const seen = new Set();
    for (const r of ordered) {
      const kind = r.default ? 'catch-all' : 'route';
      let row = routeRows.get(r.name);
      if (row && row.kind !== kind) {
        row.tr.remove();
        row = undefined;
      }
      if (!row) {
        row = kind === 'route' ? new RouteRow(r.name) : new CatchAllRow(r.name);
        routeRows.set(r.name, row);
      }
      row.update(r, windowSeconds);
      body.append(row.tr); // moves an existing row into snapshot order
      seen.add(r.name);
    }
    prune(body, routeRows, seen);
  }

  // prune removes from body the rows whose keys the last snapshot did not
  // list, and the placeholder shown before the first one.
  function prune(body, rows, seen) {
    for (const [key, row] of rows) {
      if (!seen.has(key)) {
        row.tr.remove();
        rows.delete(key);
      }
    }
    for (const p of body.querySelectorAll('tr.placeholder')) p.remove();
  }

  // --- inventory ---

  // INVENTORY_ROWS bounds the rows shown: the stream sends the top 100,
  // api/dashboard (when polling) every kept pattern, up to 10000.
  const INVENTORY_ROWS = 100;
  const inventoryRows = new Map();

  function renderInventory(inv) {
    const body = $('inventory-body');
    // Patterns come ranked by requests over the recent window, then by
    // total: what legacy serves now first.
    const patterns = ((inv && inv.patterns) || []).slice(0, INVENTORY_ROWS);
    // Shares are of every kept pattern's recent requests, not only of the
    // rows shown.
    const totalRecent = inv && !missing(inv.recent) ? inv.recent : patterns.reduce((n, p) => n + (p.recent || 0), 0);
    const windowSeconds = inv ? inv.recent_window_seconds : 0;
    if (windowSeconds > 0) setText($('inventory-recent-head'), `Last ${Math.round(windowSeconds / 60)} min`);
    const seen = new Set();
    patterns.forEach((p, i) => {
      let row = inventoryRows.get(p.pattern);
      if (!row) {
        row = {
          tr: el('tr', { 'data-pattern': p.pattern }),
          rank: el('td', { class: 'num rank' }),
          pattern: el('td', { class: 'pattern' }, el('code', { text: p.pattern })),
          route: el('td', { 'data-field': 'route' }),
          recent: el('td', { class: 'num', 'data-field': 'recent' }),
          requests: el('td', { class: 'num', 'data-field': 'requests' }),
          fill: el('span', { class: 'meter-fill legacy-fill' }),
          share: el('span', { class: 'share-text' }),
        };
        row.tr.append(row.rank, row.pattern, row.route, row.recent, row.requests,
          el('td', {}, el('div', { class: 'share-cell' }, el('span', { class: 'meter' }, row.fill), row.share)));
        inventoryRows.set(p.pattern, row);
      }
      setText(row.rank, String(i + 1));
      setText(row.route, p.route);
      setText(row.recent, count(p.recent || 0));
      row.tr.classList.toggle('idle', !(p.recent > 0));
      // Counts of patterns that came in after an eviction are estimates:
      // at most overcount too high.
      setText(row.requests, p.overcount > 0 ? `~${count(p.requests)}` : count(p.requests));
      row.requests.title = p.overcount > 0 ? `between ${count(p.requests - p.overcount)} and ${count(p.requests)}` : 'exact';
      const share = totalRecent > 0 ? (p.recent || 0) / totalRecent : null;
      setBar(row.fill, share);
      setText(row.share, pct(share));
      body.append(row.tr);
      seen.add(p.pattern);
    });
    prune(body, inventoryRows, seen);
    if (patterns.length === 0) {
      body.append(el('tr', { class: 'placeholder' }, el('td', { colspan: '6', text: 'no legacy traffic yet' })));
    }
    const limit = inv ? inv.limit : 0;
    const kept = inv && !missing(inv.kept) ? inv.kept : patterns.length;
    const bound = limit > 0 ? `top ${patterns.length} of ${count(kept)} patterns kept (at most ${count(limit)})` : 'the inventory is off';
    setText($('inventory-bound'), bound, { warn: limit > 0 && kept >= limit });
  }

  // --- headline and config ---

  function renderHeadline(h, windowSeconds) {
    // The figures cover the window, or less while the routes are younger.
    const seconds = missing(h.seconds) || h.seconds <= 0 ? windowSeconds : Math.round(h.seconds);
    const share = h.extracted_share;
    setText($('headline-share'), pct(share));
    setBar($('headline-share-bar'), share);
    setText($('headline-share-sub'), missing(share) ? `no traffic in the last ${seconds} s` : `of all requests in the last ${seconds} s`);
    setText($('headline-moved'), `${h.routes_moved} of ${h.routes_total}`);
    setText($('headline-rps'), rate(h.requests_per_second));
    setText($('headline-requests'), `${count(h.requests)} requests in the last ${seconds} s`);
    document.title = `${pct(share)} extracted · strangler`;
  }

  function renderConfig(c, now) {
    setText($('config-generation'), String(c.generation));
    setText($('config-valid'), c.valid ? 'valid' : 'file invalid', { ok: c.valid, bad: !c.valid });
    const loaded = c.loaded_at ? new Date(c.loaded_at) : null;
    if (loaded) $('config-loaded').replaceChildren(`${ago(now - loaded)} · `, timeEl(c.loaded_at, now));
    else $('config-loaded').replaceChildren('no table loaded yet');
    // The file name; the whole path, often long, on hover.
    setText($('config-path'), c.path ? c.path.split('/').pop() : DASH);
    $('config-path').title = c.path || '';
    const last = c.last_reload;
    if (last) {
      const ok = last.result === 'success';
      $('config-last-reload').replaceChildren(
        el('span', { class: ok ? 'ok' : 'bad', text: ok ? 'succeeded' : 'failed' }), ' ', timeEl(last.time, now));
    } else {
      $('config-last-reload').replaceChildren('none since start');
    }
    const banner = $('config-error');
    banner.hidden = c.valid;
    if (!c.valid) {
      const when = last ? `at ${clock(new Date(last.time), now)}` : 'on the last reload';
      const older = loaded ? `The older table, generation ${c.generation} loaded ${clock(loaded, now)}, keeps serving` : 'No table is loaded yet; nothing is served';
      setText($('config-error-summary'), `${c.path || 'routes.yaml'} was refused ${when}. ${older} until the file is fixed and saved again.`);
      setText($('config-error-text'), (last && last.error) || 'no error text');
    }
  }

  // --- snapshot ---

  let shownAt = 0; // time of the snapshot on screen (ms since epoch)

  function render(snap) {
    const now = new Date(snap.time);
    if (now.getTime() < shownAt) return; // an older snapshot, overtaken
    shownAt = now.getTime();
    const windowSeconds = snap.window_seconds;
    renderHeadline(snap.headline, windowSeconds);
    renderRoutes(snap.routes || [], windowSeconds);
    renderInventory(snap.inventory);
    renderConfig(snap.config, now);
    for (const w of document.querySelectorAll('.window-seconds')) setText(w, String(windowSeconds));
    const t = $('snapshot-time');
    t.dateTime = snap.time;
    setText(t, clock(now, new Date()));
    document.body.dataset.updated = snap.time;
    document.body.dataset.generation = String(snap.config.generation);
  }

  // --- connection indicator ---

  const MODES = {
    connecting: 'connecting…',
    live: 'live',
    polling: 'live (polling)',
    reconnecting: 'reconnecting…',
    locked: 'token needed',
  };

  function showMode(mode) {
    document.body.dataset.connection = mode;
    $('connection').dataset.state = mode;
    setText($('connection-text'), MODES[mode]);
    $('snapshot-time').classList.toggle('stale', mode === 'reconnecting' && shownAt > 0);
  }

  window.stranglerLive.start(render, showMode);
})();
