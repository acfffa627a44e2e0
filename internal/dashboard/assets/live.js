// strangler's migration dashboard: the live connection to the admin
// listener. It delivers every snapshot of api/dashboard to app.js.
//
// Snapshots arrive as server-sent events ("dashboard" events on
// api/dashboard/events). Without a token the page uses EventSource, which
// reconnects by itself. When the stream fails again and again the page
// polls api/dashboard instead, and tries the stream again now and then. An
// admin listener that needs a token answers 401: the page then asks for
// the token, keeps it for this tab only (sessionStorage), and reads the
// same stream with fetch, which can send the Authorization header that
// EventSource cannot.
'use strict';

window.stranglerLive = (() => {
  const EVENTS_URL = 'api/dashboard/events';
  const SNAPSHOT_URL = 'api/dashboard';
  const POLL_MS = 2000; // polling interval when the stream is unavailable
  const STREAM_FAILURES = 3; // failures in a row before falling back to polling
  const STREAM_RETRY_MS = 30000; // while polling, how often to try the stream again
  const RECONNECT_MS = 2000; // fetch stream: wait before reconnecting
  const STALE_MS = 5000; // no snapshot for this long: show "reconnecting"
  const TOKEN_KEY = 'strangler-admin-token';

  const $ = (id) => document.getElementById(id);

  // onSnapshot and onMode are the callbacks given to start.
  let onSnapshot = () => {};
  let onMode = () => {};

  const conn = { stream: null, failures: 0, polling: false, pollTimer: 0, retryTimer: 0, lastData: 0, mode: '', token: '' };
  try {
    conn.token = sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (err) {
    conn.token = ''; // storage disabled: ask again after a reload
  }

  // setMode reports how the page gets its data: connecting, live,
  // polling, reconnecting or locked (waiting for the token).
  function setMode(mode) {
    if (conn.mode === mode) return;
    conn.mode = mode;
    onMode(mode);
  }

  function received(snap, mode) {
    conn.lastData = Date.now();
    conn.failures = 0;
    setMode(mode);
    onSnapshot(snap);
  }

  function requestHeaders(accept) {
    const h = { Accept: accept };
    if (conn.token) h.Authorization = `Bearer ${conn.token}`;
    return h;
  }

  function closeStream() {
    const s = conn.stream;
    conn.stream = null;
    if (s) s.close();
  }

  function openStream() {
    clearTimeout(conn.retryTimer);
    closeStream();
    if (conn.token || typeof EventSource !== 'function') openFetchStream();
    else openEventSource();
  }

  // streamFailed counts a failure of the stream s: after a few in a row the
  // page polls, and tries the stream again later.
  function streamFailed(s, reconnect) {
    if (conn.stream !== s) return;
    conn.failures += 1;
    if (conn.failures >= STREAM_FAILURES) {
      closeStream();
      startPolling();
      conn.retryTimer = setTimeout(openStream, STREAM_RETRY_MS);
      return;
    }
    if (!conn.polling) setMode('reconnecting');
    if (reconnect) conn.retryTimer = setTimeout(openStream, RECONNECT_MS);
  }

  function openEventSource() {
    const es = new EventSource(EVENTS_URL);
    const s = { close: () => es.close() };
    conn.stream = s;
    es.addEventListener('dashboard', (ev) => {
      stopPolling();
      received(JSON.parse(ev.data), 'live');
    });
    es.addEventListener('error', () => {
      // EventSource reconnects by itself unless the answer was not a
      // stream (an error status, such as 401): then it is closed.
      if (es.readyState === EventSource.CLOSED) conn.failures = STREAM_FAILURES;
      streamFailed(s, false);
    });
  }

  async function openFetchStream() {
    const ctrl = new AbortController();
    const s = { close: () => ctrl.abort() };
    conn.stream = s;
    try {
      const res = await fetch(EVENTS_URL, { headers: requestHeaders('text/event-stream'), cache: 'no-store', signal: ctrl.signal });
      if (res.status === 401) {
        needToken();
        return;
      }
      if (res.ok && res.body) {
        for await (const ev of serverSentEvents(res.body)) {
          if (conn.stream !== s) return;
          if (ev.event === 'dashboard') {
            const snap = JSON.parse(ev.data);
            stopPolling();
            // Outside this try, so that an error while rendering is
            // reported as one, not taken for a broken connection.
            setTimeout(received, 0, snap, 'live');
          }
        }
      }
    } catch (err) {
      if (err instanceof SyntaxError) throw err; // a bad document is a bug, not an outage
      if (conn.stream !== s) return; // closed on purpose
    }
    streamFailed(s, true); // refused, broken or ended
  }

  // serverSentEvents parses a text/event-stream body into {event, data}.
  async function* serverSentEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let event = 'message';
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length) yield { event, data: data.join('\n') };
          event = 'message';
          data = [];
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
      }
    }
  }

  function startPolling() {
    if (conn.polling) return;
    conn.polling = true;
    poll();
  }

  function stopPolling() {
    conn.polling = false;
    clearTimeout(conn.pollTimer);
  }

  async function poll() {
    let res = null;
    let snap = null;
    try {
      res = await fetch(SNAPSHOT_URL, { headers: requestHeaders('application/json'), cache: 'no-store' });
      if (res.ok) snap = await res.json();
    } catch (err) {
      if (err instanceof SyntaxError) throw err; // a bad document is a bug, not an outage
      snap = null; // the proxy is unreachable: keep polling
    }
    if (!conn.polling) return;
    if (res && res.status === 401) {
      needToken();
      return;
    }
    if (snap) received(snap, 'polling');
    else setMode('reconnecting');
    conn.pollTimer = setTimeout(poll, POLL_MS);
  }

  // needToken stops all requests and asks for the admin token.
  function needToken() {
    stopPolling();
    closeStream();
    clearTimeout(conn.retryTimer);
    setMode('locked');
    $('token-message').textContent = conn.token
      ? 'The admin listener refused this token. Enter the right one.'
      : 'This admin listener needs its token (Authorization: Bearer). It is kept in this tab only.';
    $('token-form').hidden = false;
    $('token-input').focus();
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    conn.token = $('token-input').value.trim();
    $('token-input').value = '';
    try {
      sessionStorage.setItem(TOKEN_KEY, conn.token);
    } catch (err) {
      // storage disabled: the token lives until the page is reloaded
    }
    $('token-form').hidden = true;
    conn.failures = 0;
    setMode('connecting');
    openStream();
  });

  // watchStaleness flags a page that has had no snapshot for a while.
  function watchStaleness() {
    if (conn.mode !== 'locked' && conn.lastData && Date.now() - conn.lastData > STALE_MS) setMode('reconnecting');
  }

  // start connects and calls snapshot(document) for every snapshot and
  // mode(name) whenever the way the page gets its data changes.
  function start(snapshot, mode) {
    onSnapshot = snapshot;
    onMode = mode;
    setMode('connecting');
    openStream();
    setInterval(watchStaleness, 1000);
  }

  return { start };
})();
