// The nurses' alarm dashboard: a secondary alarm display. Plain JavaScript, no build step.
//
// Data comes from /api/events (Server-Sent Events): a snapshot, then one event per change
// (a bed that changed comes as a bed_delta, only its changed parts, merged into the bed held).
// The browser's EventSource reconnects by itself and sends the last event id, so the server
// replays what was missed; a page that had to open a new stream passes it as last_event_id.
// Alarm colours follow IEC 60601-1-8 (high red flashing, medium yellow flashing slowly, low
// cyan) and always come with a text mark (!!!, !!, !), never colour alone.
"use strict";

(function () {
  const PRIORITY = {
    high: { rank: 3, mark: "HIGH !!!", word: "high" },
    medium: { rank: 2, mark: "MED !!", word: "medium" },
    low: { rank: 1, mark: "LOW !", word: "low" },
  };
  const STREAM_SILENT_MS = 15000; // no event nor heartbeat for this long: the data is stale
  const REOPEN_MS = 2000;
  const ACK_WAIT_MS = 15000;
  const RENDER_MIN_MS = 250; // at most 4 redraws a second, however many events arrive
  const TREND_SPAN_S = 3 * 3600; // a card's trend: the last 3 h
  const TREND_DRAW_MS = 2000; // live points are drawn on the cards at most this often
  const TREND_REFETCH_MS = 5 * 60 * 1000;
  const TREND_FETCHES = 4; // history requests in flight at once
  const FLAG_WORDS = {
    occlusion: "occlusion", air_in_line: "air in line", end_of_volume: "end of volume",
    near_end: "near end of volume", battery: "battery low",
  };
  const PUMP_STATE_WORDS = { infusing: "infusing", stopped: "stopped", kvo: "keep vein open (KVO)", alarm: "pump alarm" };
  const CONNECTION_WORDS = { online: "connected", stale: "no recent data", offline: "disconnected", unknown: "not reported" };

  const S = {
    me: null,
    beds: new Map(),
    alarms: new Map(),
    edges: new Map(),
    feed: { connected: false, since: null },
    settings: { stale_after_s: 30, nibp_stale_after_s: 900 },
    offsetMs: 0,
    source: null,
    lastEventId: "",
    streamOpen: false,
    everOpen: false,
    lastMessageAt: 0,
    pendingAcks: new Map(), // alarm key -> {at, text}
    rows: new Map(), // alarm key -> <li>
    tiles: new Map(), // bed key -> {el, body, trend, html}
    loaded: false,
    lastRenderAt: 0,
    trends: new Map(), // bed key -> {series, fetchedAt, loading, dirty, disabled, signature}
    trendQueue: [],
    trendFetching: 0,
    openTrend: null, // bed key of the larger view
    visible: new Set(), // bed keys on (or near) the screen: only these are redrawn
  };
  // Cards off the screen are not redrawn (with 200 beds most are), and redrawn once they
  // come into view; their alarms still show in the alarm list at once.
  const visibility = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) S.visible.add(e.target.dataset.key);
      else S.visible.delete(e.target.dataset.key);
    }
    scheduleRender();
  }, { rootMargin: "300px 0px" });
  window.__dashboard = S; // for the browser tests and the console

  const $ = (id) => document.getElementById(id);
  const esc = (value) =>
    String(value ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  const now = () => Date.now() + S.offsetMs;
  const ms = (iso) => (iso ? Date.parse(iso) : NaN);

  function pad(n) { return String(n).padStart(2, "0"); }
  function clock(totalMs) {
    const s = Math.max(0, Math.floor(totalMs / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
  }
  function age(iso) {
    const s = Math.max(0, Math.round((now() - ms(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
  }
  const TIME_OF_DAY = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const BY_NAME = new Intl.Collator(undefined, { numeric: true });
  function timeOfDay(iso) {
    return iso ? TIME_OF_DAY.format(new Date(ms(iso))) : "";
  }
  function fmt(value) {
    if (value === null || value === undefined) return "—";
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }

  // ---- server: session, acknowledgement --------------------------------------------------

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { status: response.status, data };
  }

  async function loadMe() {
    const { status, data } = await api("GET", "/api/me");
    if (status === 200) S.me = data;
    renderAccount();
    if (S.me && (S.me.user || !S.me.view_requires_login)) openStream();
    else closeStream();
  }

  function reload() {
    loadMe().catch(() => setTimeout(reload, REOPEN_MS));
  }

  async function login(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    const name = $("login-name").value.trim();
    const password = $("login-password").value;
    const { status, data } = await api("POST", "/api/login", { name, password });
    $("login-password").value = "";
    if (status !== 200) {
      $("login-error").textContent = data.error || "Login failed";
      return;
    }
    S.me = data;
    renderAccount();
    openStream();
    render();
  }

  async function logout() {
    const { data } = await api("POST", "/api/logout", {});
    S.me = data;
    renderAccount();
    if (S.me.view_requires_login) closeStream();
    render();
  }

  async function acknowledge(key) {
    const alarm = S.alarms.get(key);
    if (!alarm) return;
    S.pendingAcks.set(key, { at: Date.now(), text: "Sending…" });
    renderAlarms();
    const path = "/api/alarms/" + encodeURIComponent(alarm.alarm_id) + "/ack";
    const { status, data } = await api("POST", path, { site: alarm.site });
    if (status === 202 || status === 200) {
      S.pendingAcks.set(key, { at: Date.now(), text: "Sent — waiting for the edge" });
    } else {
      S.pendingAcks.set(key, { at: Date.now(), text: "Not sent: " + (data.error || status), failed: true });
      if (status === 401) reload();
    }
    renderAlarms();
  }

  // ---- the event stream -------------------------------------------------------------------

  function openStream() {
    if (S.source) return;
    const query = S.lastEventId ? "?last_event_id=" + encodeURIComponent(S.lastEventId) : "";
    const source = new EventSource("/api/events" + query);
    S.source = source;
    source.onopen = () => { S.streamOpen = true; S.everOpen = true; S.lastMessageAt = Date.now(); render(); };
    source.onerror = () => {
      S.streamOpen = false;
      render();
      if (source.readyState === EventSource.CLOSED) {
        // The server answered with an error (logged out, or a proxy): look again later.
        S.source = null;
        setTimeout(reload, REOPEN_MS);
      }
    };
    const handlers = {
      snapshot: onSnapshot, bed: onBed, bed_delta: onBedDelta, bed_removed: onBedRemoved,
      alarm: onAlarm, alarm_removed: onAlarmRemoved,
      edge: onEdge, edge_removed: onEdgeRemoved, feed: onFeed, heartbeat: onHeartbeat,
    };
    for (const [type, handle] of Object.entries(handlers)) {
      source.addEventListener(type, (event) => {
        if (event.lastEventId) S.lastEventId = event.lastEventId;
        S.lastMessageAt = Date.now();
        S.streamOpen = true;
        handle(JSON.parse(event.data));
        scheduleRender();
      });
    }
  }

  function closeStream() {
    if (S.source) S.source.close();
    S.source = null;
    S.streamOpen = false;
    S.everOpen = false;
    S.lastEventId = "";
    S.beds.clear(); S.alarms.clear(); S.edges.clear();
    S.loaded = false;
    render();
  }

  function setServerTime(iso) {
    if (iso) S.offsetMs = ms(iso) - Date.now();
  }

  function onSnapshot(data) {
    const before = new Set(S.alarms.keys());
    S.beds = new Map(data.beds.map((b) => [b.key, b]));
    S.alarms = new Map(data.alarms.map((a) => [a.key, a]));
    S.edges = new Map(data.edges.map((e) => [e.key, e]));
    S.feed = data.feed;
    S.settings = data.settings || S.settings;
    setServerTime(data.server_time);
    const fresh = data.alarms.filter((a) => !before.has(a.key));
    if (!S.loaded) {
      if (data.alarms.length) announce(data.alarms.length + " alarm(s) shown; the highest is " + PRIORITY[data.alarms[0].priority].word + " priority.");
    } else {
      fresh.forEach(announceAlarm);
    }
    S.loaded = true;
  }
  function onBed(bed) { S.beds.set(bed.key, bed); liveTrend(bed); }
  // A bed_delta holds only the values of a bed that changed, in their place: objects are
  // merged key by key, pumps and devices by device id (never a new or a removed one: those
  // come as a whole bed).
  function onBedDelta(delta) {
    const held = S.beds.get(delta.key);
    if (!held) { resync(); return; }
    const bed = Object.assign({}, held);
    for (const [name, value] of Object.entries(delta)) {
      if (name === "pumps" || name === "devices") {
        bed[name] = held[name].map((item) => (value[item.device_id] ? merged(item, value[item.device_id]) : item));
      } else bed[name] = merged(held[name], value);
    }
    onBed(bed);
  }
  function merged(held, value) {
    const isObject = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
    if (!isObject(held) || !isObject(value)) return value;
    const out = Object.assign({}, held);
    for (const [name, v] of Object.entries(value)) out[name] = merged(held[name], v);
    return out;
  }
  // A change to a bed the page does not hold: start again from a snapshot.
  function resync() {
    if (S.source) S.source.close();
    S.source = null;
    S.lastEventId = "";
    openStream();
  }
  function onAlarm(alarm) {
    const known = S.alarms.get(alarm.key);
    S.alarms.set(alarm.key, alarm);
    if (!known) { announceAlarm(alarm); queueTrend(alarm.site + "/" + alarm.bed); }
    else if (PRIORITY[alarm.priority].rank > PRIORITY[known.priority].rank) announceAlarm(alarm);
    if (alarm.state !== "active" || (known && known.state !== alarm.state)) S.pendingAcks.delete(alarm.key);
  }
  function onAlarmRemoved(data) { S.alarms.delete(data.key); S.pendingAcks.delete(data.key); }
  function onEdge(edge) { S.edges.set(edge.key, edge); }
  function onEdgeRemoved(data) { S.edges.delete(data.key); }
  function onBedRemoved(data) { S.beds.delete(data.key); }
  function onFeed(feed) { S.feed = feed; }
  function onHeartbeat(data) { S.feed = data.feed; setServerTime(data.server_time); }

  function announce(text) { $("announcer").textContent = text; }
  function announceAlarm(alarm) {
    announce("New " + PRIORITY[alarm.priority].word + " priority alarm, " + alarmBedName(alarm) + ": " + alarm.message);
  }
  function bedName(bed) { return bed.label || bed.bed; }
  function alarmBedName(alarm) {
    const bed = S.beds.get(alarm.site + "/" + alarm.bed);
    return bed && bed.label && bed.label !== alarm.bed ? bed.label + " (" + alarm.bed + ")" : alarm.bed;
  }

  // ---- rendering ---------------------------------------------------------------------------

  // Events only mark the view dirty; it is redrawn at most every RENDER_MIN_MS.
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    const wait = Math.max(0, S.lastRenderAt + RENDER_MIN_MS - Date.now());
    setTimeout(() => { renderQueued = false; render(); }, wait);
  }

  function render() {
    S.lastRenderAt = Date.now();
    S.renders = (S.renders || 0) + 1;
    const canLook = S.me && (S.me.user || !S.me.view_requires_login);
    $("main").hidden = !canLook;
    $("login-needed").hidden = !!canLook || !S.me;
    renderBanner();
    if (!canLook) return;
    renderAlarms();
    renderBeds();
    renderFooter();
    drawTrends();
    AlarmSound.update(S.alarms.values());
  }

  function renderAccount() {
    const me = S.me || {};
    $("login").hidden = !!me.user;
    $("who").hidden = !me.user;
    const cannot = me.cannot_acknowledge_because ? ", cannot acknowledge: " + me.cannot_acknowledge_because : ", cannot acknowledge";
    $("who-name").textContent = me.user ? me.user + " (" + me.role + (me.can_acknowledge ? "" : cannot) + ")" : "";
  }

  function problems() {
    const out = [];
    if (!S.me || (!S.me.user && S.me.view_requires_login)) return out;
    const silentMs = Date.now() - S.lastMessageAt;
    if (!S.streamOpen) {
      out.push(S.everOpen
        ? "Connection to the dashboard server lost — reconnecting. What is shown may be out of date; watch the bedside devices."
        : "Connecting to the dashboard server…");
    } else if (silentMs > STREAM_SILENT_MS) {
      out.push("No update from the dashboard server for " + Math.round(silentMs / 1000) + " s — the data may be stale.");
    }
    if (S.loaded && !S.feed.connected) {
      out.push("The dashboard server has lost the MQTT broker" + (S.feed.since ? " since " + timeOfDay(S.feed.since) : "") + " — data is not current.");
    }
    for (const edge of S.edges.values()) {
      if (edge.state !== "online") {
        out.push("Edge " + edge.edge_id + " (" + edge.site + ") is " + edge.state + " since " + timeOfDay(edge.ts) + " — its beds are not current.");
      }
    }
    return out;
  }

  function renderBanner() {
    const list = problems();
    const banner = $("banner");
    const text = list.join("\n");
    banner.hidden = list.length === 0;
    if (banner.dataset.text !== text) {
      banner.dataset.text = text;
      banner.innerHTML = list.map((p) => "<p>" + esc(p) + "</p>").join("");
    }
    document.body.classList.toggle("degraded", list.length > 0);
  }

  function alarmOrder(a, b) {
    const rank = PRIORITY[b.priority].rank - PRIORITY[a.priority].rank;
    return rank || ms(b.raised_at) - ms(a.raised_at);
  }

  function alarmStatus(alarm) {
    if (alarm.state === "acknowledged") {
      const via = alarm.acknowledged_via ? " via " + alarm.acknowledged_via : "";
      return "ACKNOWLEDGED by " + alarm.acknowledged_by + via + " at " + timeOfDay(alarm.acknowledged_at) + " — condition still present";
    }
    if (alarm.state === "latched") return "LATCHED — condition over, acknowledge to clear";
    return "ACTIVE — not acknowledged";
  }

  function newRow(key) {
    const li = document.createElement("li");
    li.dataset.key = key;
    li.innerHTML =
      '<span class="mark"></span><span class="where"></span><span class="msg"></span>' +
      '<span class="when"></span><span class="status"></span>' +
      '<span class="action"><button type="button" class="ack">Acknowledge</button><span class="ack-note" role="status"></span></span>';
    return li;
  }

  function renderAlarms() {
    const list = $("alarm-list");
    const sorted = [...S.alarms.values()].sort(alarmOrder);
    const canAck = !!(S.me && S.me.can_acknowledge);
    sorted.forEach((alarm, index) => {
      let li = S.rows.get(alarm.key);
      if (!li) { li = newRow(alarm.key); S.rows.set(alarm.key, li); }
      const p = PRIORITY[alarm.priority];
      li.className = "alarm prio-" + alarm.priority + " state-" + alarm.state + (alarm.escalated ? " escalated" : "");
      li.querySelector(".mark").textContent = p.mark;
      li.querySelector(".where").textContent = alarmBedName(alarm) + " · " + alarm.site + (alarm.kind === "technical" ? " · technical" : "");
      li.querySelector(".msg").textContent = alarm.message;
      li.querySelector(".when").textContent = "raised " + timeOfDay(alarm.raised_at) + " (" + age(alarm.raised_at) + ")";
      li.querySelector(".status").textContent = alarmStatus(alarm) + (alarm.escalated ? " · ESCALATED" : "");
      const pending = S.pendingAcks.get(alarm.key);
      if (pending && !pending.failed && Date.now() - pending.at > ACK_WAIT_MS) {
        pending.text = "No answer from the edge yet — acknowledge at the bedside";
        pending.failed = true;
      }
      const button = li.querySelector("button.ack");
      const ackable = alarm.state === "active" || alarm.state === "latched";
      button.hidden = !(canAck && ackable);
      button.disabled = !!(pending && !pending.failed);
      button.setAttribute("aria-label", "Acknowledge " + p.word + " alarm at " + alarmBedName(alarm));
      li.querySelector(".ack-note").textContent = pending && ackable ? pending.text : "";
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
    for (const [key, li] of S.rows) {
      if (!S.alarms.has(key)) { li.remove(); S.rows.delete(key); }
    }
    $("no-alarms").hidden = sorted.length > 0;
    $("alarm-count").textContent = sorted.length ? "(" + sorted.length + ")" : "";
  }

  function bedAlarms(bed) {
    return [...S.alarms.values()].filter((a) => a.site === bed.site && a.bed === bed.bed).sort(alarmOrder);
  }

  function isStale(measured, limitS) {
    return !measured || now() - ms(measured.ts) > limitS * 1000;
  }

  function vital(label, parts, limitS, unit) {
    const shown = parts.filter(Boolean);
    const missing = shown.length === 0;
    const invalid = shown.some((m) => m.state === "invalid" || m.state === "unavailable");
    const stale = !missing && isStale(shown[0], limitS);
    const value = missing ? "—" : shown.map((m) => fmt(m.value)).join("/");
    const classes = ["vital", missing ? "missing" : "", stale ? "stale" : "", invalid ? "invalid" : ""].join(" ");
    const tag = missing ? "NO DATA" : invalid ? "INVALID" : stale ? "STALE" : "";
    return '<div class="' + classes + '"><dt>' + esc(label) + "</dt><dd>" +
      '<span class="value">' + esc(value) + "</span>" +
      (missing ? "" : ' <span class="unit">' + esc(unit) + "</span>") +
      '<span class="meta">' + (tag ? '<span class="tag">' + tag + "</span> " : "") +
      (missing || S.station ? "" : '<span class="age">' + esc(age(shown[0].ts)) + "</span>") + "</span>" +
      "</dd></div>";
  }

  function phase(session) {
    if (!session) return "No treatment session";
    const t = now();
    const since = (label, iso) => (isNaN(ms(iso)) ? label : label + " · " + clock(t - ms(iso)));
    switch (session.phase) {
      case "baseline": return since("Baseline", session.started_at);
      case "infusion": {
        // A session first seen mid-infusion has an estimated start: its clock is marked "~".
        const text = since("Infusion", session.infusion_started_at || session.started_at);
        return session.infusion_started_estimated ? text.replace(" · ", " · ~") + " (start estimated)" : text;
      }
      case "observation":
        return isNaN(ms(session.observation_ends_at))
          ? since("Observation", session.infusion_stopped_at)
          : "Observation · " + clock(ms(session.observation_ends_at) - t) + " left";
      default: return "Closed";
    }
  }

  function pumpHtml(pump, limitS) {
    const v = pump.values || {};
    const stale = isStale(pump, limitS);
    const words = pump.flags.map((f) => FLAG_WORDS[f] || f.replace(/_/g, " "));
    const flags = words.length ? ' <span class="tag flag">' + esc(words.join(", ")) + "</span>" : "";
    return '<div class="pump' + (stale ? " stale" : "") + '">' +
      '<span class="pump-name">' + esc(pump.device_id) + "</span> " +
      '<span class="drug">' + esc(pump.drug || "drug not shown") + "</span> · " +
      "<span>" + esc(fmt(v.rate && v.rate.value)) + " mL/h</span> · " +
      "<span>" + esc(fmt(v.volume && v.volume.value)) + " mL infused</span> · " +
      '<span class="pump-state">' + esc(PUMP_STATE_WORDS[pump.state] || pump.state) + "</span>" + flags +
      (stale ? ' <span class="tag">STALE</span>' : "") +
      (S.station ? "" : ' <span class="age">' + esc(age(pump.ts)) + "</span>") + "</div>";
  }

  function bedParts(bed) {
    const alarms = bedAlarms(bed);
    const top = alarms[0];
    const edge = S.edges.get(bed.site + "/" + bed.edge_id);
    const edgeDown = edge && edge.state !== "online";
    const s = S.settings;
    const v = bed.vitals || {};
    const classes = ["bed", top ? "prio-" + top.priority : "", top ? "state-" + top.state : "", edgeDown ? "edge-down" : ""].join(" ");
    const mark = top ? '<span class="mark prio-' + top.priority + '">' + PRIORITY[top.priority].mark + " ALARM</span>" : "";
    const devices = bed.devices.map((d) => {
      const conn = d.connection || "unknown";
      return '<li class="device conn-' + esc(conn) + '">' + esc(d.device_id) + ": " + esc(CONNECTION_WORDS[conn] || conn) + "</li>";
    }).join("");
    const pumps = bed.pumps.length
      ? bed.pumps.map((p) => pumpHtml(p, s.stale_after_s)).join("")
      : '<div class="pump missing">Pump: — <span class="tag">NO DATA</span></div>';
    const id = bed.label && bed.label !== bed.bed ? '<span class="bed-id">' + esc(bed.bed) + "</span>" : "";
    const body =
      "<header><h3>" + esc(bedName(bed)) + "</h3>" + id + '<span class="site">' + esc(bed.site) + " · " + esc(bed.edge_id || "") + "</span>" + mark + "</header>" +
      (edgeDown ? '<p class="edge-warning">EDGE ' + esc(edge.state.toUpperCase()) + " — values not current</p>" : "") +
      '<p class="phase"></p>' + // its clock is set apart: it changes every second
      '<dl class="vitals">' +
      vital("BP", [v.sbp, v.dbp], s.nibp_stale_after_s, "mmHg") +
      vital("SpO₂", [v.spo2], s.stale_after_s, "%") +
      vital("HR", [v.hr], s.stale_after_s, "/min") +
      vital("RR", [v.rr], s.stale_after_s, "/min") +
      "</dl>" + pumps +
      '<ul class="devices">' + devices + "</ul>";
    const aria = "Bed " + bedName(bed) + (top ? ", " + PRIORITY[top.priority].word + " priority alarm" : "") + ". Open its trends.";
    return { classes, aria, body, phase: phase(bed.session) };
  }

  function newTile(key) {
    const el = document.createElement("article");
    el.dataset.key = key;
    el.tabIndex = 0;
    const body = document.createElement("div");
    body.className = "bed-body";
    const trend = document.createElement("div");
    trend.className = "bed-trend";
    trend.setAttribute("aria-hidden", "true");
    el.append(body, trend);
    visibility.observe(el);
    return { el, body, trend, html: "" };
  }

  function renderBeds() {
    const beds = [...S.beds.values()].sort((a, b) =>
      BY_NAME.compare(a.site, b.site) || BY_NAME.compare(bedName(a), bedName(b)));
    const grid = $("bed-grid");
    const keep = new Set();
    beds.forEach((bed, index) => {
      const parts = bedParts(bed);
      let tile = S.tiles.get(bed.key);
      if (!tile) { tile = newTile(bed.key); S.tiles.set(bed.key, tile); }
      if (tile.el.className !== parts.classes) tile.el.className = parts.classes;
      if (tile.el.getAttribute("aria-label") !== parts.aria) tile.el.setAttribute("aria-label", parts.aria);
      const shown = S.visible.has(bed.key) || !tile.html;
      if (shown && tile.html !== parts.body) {
        tile.body.innerHTML = parts.body; tile.html = parts.body; tile.phase = null;
        tile.phaseEl = tile.body.querySelector(".phase");
      }
      if (shown && tile.phase !== parts.phase) { tile.phaseEl.textContent = parts.phase; tile.phase = parts.phase; }
      if (grid.children[index] !== tile.el) grid.insertBefore(tile.el, grid.children[index] || null);
      if (S.visible.has(bed.key) && !S.station) ensureTrend(bed, tile);
      keep.add(bed.key);
    });
    for (const [key, tile] of S.tiles) {
      if (!keep.has(key)) {
        visibility.unobserve(tile.el);
        Trends.destroy(tile.trend);
        tile.el.remove(); S.tiles.delete(key); S.trends.delete(key); S.visible.delete(key);
      }
    }
    $("no-beds").hidden = beds.length > 0;
  }

  // ---- trends ------------------------------------------------------------------------------

  function historyPath(site, bed, sinceS) {
    return "/api/beds/" + encodeURIComponent(bed) + "/history?site=" + encodeURIComponent(site) +
      "&since=" + encodeURIComponent(String(Math.floor(sinceS)));
  }

  function signature(bed) {
    const s = bed.session;
    return s ? s.session_id + ":" + s.phase : "";
  }

  function ensureTrend(bed, tile) {
    let entry = S.trends.get(bed.key);
    if (!entry) {
      entry = { series: null, fetchedAt: 0, loading: false, dirty: false, disabled: false, signature: signature(bed), drawn: false };
      S.trends.set(bed.key, entry);
      queueTrend(bed.key);
    }
    if (tile.trend.hidden !== entry.disabled) tile.trend.hidden = entry.disabled;
    if (entry.signature !== signature(bed)) { entry.signature = signature(bed); queueTrend(bed.key); }
  }

  function trendRange() {
    const t = now() / 1000;
    return [t - TREND_SPAN_S, t + 60];
  }

  function queueTrend(key) {
    if (!S.trendQueue.includes(key)) S.trendQueue.push(key);
    pumpTrendQueue();
  }

  function pumpTrendQueue() {
    while (S.trendFetching < TREND_FETCHES && S.trendQueue.length) {
      const key = S.trendQueue.shift();
      const bed = S.beds.get(key);
      const entry = S.trends.get(key);
      if (!bed || !entry || entry.disabled) continue;
      S.trendFetching++;
      entry.loading = true;
      api("GET", historyPath(bed.site, bed.bed, now() / 1000 - TREND_SPAN_S))
        .then(({ status, data }) => {
          if (status === 503) { entry.disabled = true; return; }
          if (status !== 200) return;
          entry.series = data;
          entry.fetchedAt = Date.now();
          entry.drawn = false;
        })
        .catch(() => {})
        .finally(() => { entry.loading = false; S.trendFetching--; pumpTrendQueue(); scheduleRender(); });
    }
  }

  function liveTrend(bed) {
    const entry = S.trends.get(bed.key);
    if (entry && entry.series && Trends.append(entry.series, bed)) entry.dirty = true;
  }

  // Draw the trends on screen: new ones, and those with new points (or not moved for 30 s).
  // The cards of the grid are all as wide: their width is read once, after the DOM writes.
  function drawTrends() {
    if (S.station) return;
    const range = trendRange();
    let width = 0;
    for (const [key, entry] of S.trends) {
      const tile = S.tiles.get(key);
      if (!tile || !entry.series || !S.visible.has(key) || entry.disabled) continue;
      if (Date.now() - entry.fetchedAt > TREND_REFETCH_MS && !entry.loading) { queueTrend(key); continue; }
      const since = Date.now() - (entry.drawnAt || 0);
      if (entry.drawn && !((entry.dirty && since > TREND_DRAW_MS) || since > 30000)) continue;
      width = width || tile.trend.clientWidth;
      if (!width) return;
      Trends.trim(entry.series, range[0]);
      if (entry.drawn) Trends.refresh(tile.trend, entry.series, range);
      else Trends.mini(tile.trend, entry.series, range, width);
      entry.drawn = true;
      entry.dirty = false;
      entry.drawnAt = Date.now();
    }
  }

  // ---- the larger view of one bed -----------------------------------------------------------

  async function openTrend(key) {
    const bed = S.beds.get(key);
    if (!bed) return;
    S.openTrend = key;
    const dialog = $("trend-dialog");
    $("trend-title").textContent = bedName(bed) + (bed.label ? " (" + bed.bed + ")" : "") + " · " + bed.site;
    if (!dialog.open) dialog.showModal();
    Limits.show($("trend-limits"), bed.site, bed.bed);
    await loadLargeTrend();
  }

  async function loadLargeTrend() {
    const key = S.openTrend;
    const bed = key && S.beds.get(key);
    if (!bed) return;
    const span = Number($("trend-span").value) * 3600;
    const [history, sessions] = await Promise.all([
      api("GET", historyPath(bed.site, bed.bed, now() / 1000 - span)),
      api("GET", "/api/beds/" + encodeURIComponent(bed.bed) + "/sessions?site=" + encodeURIComponent(bed.site)),
    ]);
    if (S.openTrend !== key) return;
    const box = $("trend-large");
    if (history.status !== 200) {
      Trends.destroy(box);
      box.textContent = "No trend: " + (history.data.error || history.status);
      return;
    }
    const t = now() / 1000;
    Trends.large(box, history.data, [t - span, t + 60]);
    $("trend-alarms").innerHTML = history.data.alarms.map((a) =>
      '<li class="prio-' + esc(a.priority) + '"><span class="mark prio-' + esc(a.priority) + '">' + PRIORITY[a.priority].mark + "</span> " +
      esc(timeOfDay(new Date(a.raised_at * 1000).toISOString())) + " " + esc(a.message) +
      (a.acknowledged_by ? " — acknowledged by " + esc(a.acknowledged_by) + " at " + esc(timeOfDay(a.acknowledged_at)) : "") + "</li>").join("");
    const list = (sessions.data.sessions || []).slice(0, 10);
    $("trend-sessions").innerHTML = list.map((s) => {
      const href = "/record?site=" + encodeURIComponent(bed.site) + "&bed=" + encodeURIComponent(bed.bed) + "&session=" + encodeURIComponent(s.session_id);
      return '<li><a href="' + esc(href) + '" target="_blank" rel="noopener">Session record</a> ' +
        esc(new Date(ms(s.started_at)).toLocaleString([], { hour12: false })) + " · " + esc(s.phase) + "</li>";
    }).join("") || "<li>No session recorded yet.</li>";
  }

  function closeTrend() {
    S.openTrend = null;
    const dialog = $("trend-dialog");
    if (dialog.open) dialog.close();
    Trends.destroy($("trend-large"));
  }

  function setStation(on) {
    S.station = on; // the station leaves out the ages (they change every second)
    document.body.classList.toggle("station", on);
    const button = $("station-toggle");
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Bed grid view" : "Central station view";
    const url = new URL(location.href);
    if (on) url.searchParams.set("view", "station"); else url.searchParams.delete("view");
    history.replaceState(null, "", url);
    for (const entry of S.trends.values()) entry.drawn = false; // the cards changed size
    scheduleRender();
  }

  function renderFooter() {
    const edges = [...S.edges.values()].map((e) => e.edge_id + " (" + e.site + "): " + e.state);
    $("edges").textContent = edges.length ? "Edges — " + edges.join(", ") : "No edge seen yet";
    $("updated").textContent = S.lastMessageAt ? "Last update " + new Date(S.lastMessageAt).toLocaleTimeString([], { hour12: false }) : "";
  }

  // ---- start ---------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("alarm-list").addEventListener("click", (event) => {
      const button = event.target.closest("button.ack");
      if (button) acknowledge(button.closest("li").dataset.key);
    });
    $("bed-grid").addEventListener("click", (event) => {
      const tile = event.target.closest("article.bed");
      if (tile && !event.target.closest("a, button")) openTrend(tile.dataset.key);
    });
    $("bed-grid").addEventListener("keydown", (event) => {
      const tile = event.target.closest("article.bed");
      if (tile && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); openTrend(tile.dataset.key); }
    });
    $("trend-close").addEventListener("click", closeTrend);
    $("trend-dialog").addEventListener("close", () => { S.openTrend = null; });
    $("trend-span").addEventListener("change", loadLargeTrend);
    $("sound-toggle").addEventListener("click", () => AlarmSound.toggle());
    $("station-toggle").addEventListener("click", () => setStation(!document.body.classList.contains("station")));
    setStation(new URLSearchParams(location.search).get("view") === "station");
    setInterval(render, 1000);
    setInterval(() => { if (S.openTrend) loadLargeTrend(); }, 30000);
    reload();
  });
})();
