// The printable treatment-session record: /record?site=...&bed=...&session=...
// Everything comes from the dashboard's history (the same JSON as the download).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const esc = (value) =>
    String(value ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  const when = (iso) => (iso ? new Date(Date.parse(iso)).toLocaleString([], { hour12: false }) : "—");
  const time = (iso) => (iso ? new Date(Date.parse(iso)).toLocaleTimeString([], { hour12: false }) : "—");
  const num = (v, digits) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits ?? (Number.isInteger(v) ? 0 : 1)));
  const PRIORITY = { high: "HIGH !!!", medium: "MED !!", low: "LOW !" };
  const SYS = "MDC_PRESS_BLD_NONINV_SYS", DIA = "MDC_PRESS_BLD_NONINV_DIA", MEAN = "MDC_PRESS_BLD_NONINV_MEAN";

  function value(row, codes, digits) {
    for (const code of codes) {
      const v = row.values[code];
      if (!v) continue;
      const range = row.reason === "interval" && v.min !== v.max ? ' <span class="range">(' + num(v.min, digits) + "–" + num(v.max, digits) + ")</span>" : "";
      return num(v.value, digits) + range;
    }
    return "—";
  }

  function facts(r) {
    const order = r.order;
    const rates = r.pump.programmed_rates.map((p) => num(p.rate_ml_per_h) + " mL/h from " + time(p.from)).join("; ");
    const rows = [
      ["Bed", (r.label ? r.label + " (" + r.bed + ")" : r.bed)],
      ["Phase", r.phase],
      ["Session start (baseline)", when(r.started_at)],
      ["Infusion start", when(r.infusion_started_at) + (r.infusion_started_estimated ? " (estimated: the edge joined mid-infusion)" : "")],
      ["Infusion stop", when(r.infusion_stopped_at)],
      ["Observation ends", when(r.observation_ends_at)],
      ["Closed", when(r.closed_at)],
      ["Order", order ? order.drug + " " + num(order.dose_mg_per_kg, 2) + " mg/kg at " + num(order.concentration_mg_per_ml, 2) + " mg/mL over " + num(order.duration_min) + " min = " + num(order.rate_ml_per_h) + " mL/h" : "none configured"],
      ["Drug on the pump", r.pump.drugs.join(", ") || "—"],
      ["Programmed rate", rates || "—"],
      ["Volume delivered", r.pump.volume_delivered_ml === null ? "—" : num(r.pump.volume_delivered_ml, 1) + " mL"],
      ["Baseline BP", r.baseline.systolic ? num(r.baseline.systolic) + "/" + num(r.baseline.diastolic) + " mmHg (" + r.baseline.count + " measurements)" : "—"],
    ];
    return rows.map(([k, v]) => "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>").join("");
  }

  function ranges(r) {
    const names = { sbp: "Systolic BP (mmHg)", dbp: "Diastolic BP (mmHg)", hr: "Heart rate (/min)", spo2: "SpO₂ (%)", rr: "Respiration rate (/min)" };
    return Object.entries(names).map(([key, label]) => {
      const range = r.ranges[key];
      return "<tr><th>" + esc(label) + "</th><td>" + num(range.min) + "</td><td>" + num(range.max) + "</td></tr>";
    }).join("");
  }

  function charted(r) {
    return r.charted.map((row) => {
      const bp = row.values[SYS] ? num(row.values[SYS].value, 0) + "/" + num(row.values[DIA] && row.values[DIA].value, 0) : "—";
      return '<tr class="reason-' + esc(row.reason) + '"><td>' + esc(time(row.at)) + "</td><td>" + (row.reason === "nibp" ? "NIBP" : "5 min") +
        "</td><td>" + esc(row.phase) + "</td><td>" + bp + "</td><td>" + value(row, [MEAN], 0) +
        "</td><td>" + value(row, ["MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"], 0) +
        "</td><td>" + value(row, ["MDC_PULS_OXIM_SAT_O2"], 0) + "</td><td>" + value(row, ["MDC_RESP_RATE", "MDC_AWAY_RESP_RATE"], 0) +
        "</td><td>" + value(row, ["MDC_FLOW_FLUID_PUMP"], 1) + "</td><td>" + value(row, ["MDC_VOL_FLUID_DELIV"], 1) + "</td></tr>";
    }).join("");
  }

  function alarms(r) {
    if (!r.alarms.length) return '<tr><td colspan="6">No alarm in this session.</td></tr>';
    return r.alarms.map((a) => {
      const ack = a.acknowledged_by ? esc(a.acknowledged_by) + " at " + esc(time(a.acknowledged_at)) + (a.acknowledged_via ? " via " + esc(a.acknowledged_via) : "") : "not acknowledged";
      const course = a.transitions.map((t) => esc(time(t.at)) + " " + esc(t.transition.replace(/_/g, " ")) + " (" + esc(t.priority) + (t.by ? ", " + esc(t.by) : "") + ")").join("; ");
      return '<tr class="prio-' + esc(a.priority) + '"><td>' + esc(time(a.raised_at)) + '</td><td><span class="mark">' + PRIORITY[a.priority] + "</span></td><td>" +
        esc(a.message) + "</td><td>" + ack + "</td><td>" + esc(time(a.ended_at)) + "</td><td>" + (course || "—") + "</td></tr>";
    }).join("");
  }

  function limitChanges(r) {
    const changes = r.limit_changes || [];
    if (!changes.length) return '<tr><td colspan="5">No alarm limit changed during this session.</td></tr>';
    return changes.map((c) => "<tr><td>" + esc(time(c.at)) + "</td><td>" + esc(c.limit.replace(/_/g, " ")) + "</td><td>" +
      esc(c.before) + "</td><td>" + esc(c.after) + "</td><td>" + esc(c.by) + "</td></tr>").join("");
  }

  function showNote(r, path, siteQ) {
    if (!r.notes_enabled) return;
    $("note-box").hidden = false;
    const render = (note) => {
      $("note-text").textContent = note && note.text ? note.text : "—";
      $("note-by").textContent = note && note.text ? "(" + note.by + ", " + when(note.at) + ")" : "";
      $("note-input").value = note ? note.text : "";
    };
    render(r.note);
    $("note-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("note-status").textContent = "Saving…";
      const response = await fetch(path + "?" + siteQ, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ text: $("note-input").value }),
      });
      const data = await response.json().catch(() => ({}));
      if (response.status !== 200) { $("note-status").textContent = "Not saved: " + (data.error || response.status); return; }
      $("note-status").textContent = "Saved";
      render({ text: data.text, by: data.by, at: new Date(data.at * 1000).toISOString() });
    });
  }

  async function load() {
    const q = new URLSearchParams(location.search);
    const site = q.get("site") || "", bed = q.get("bed") || "", session = q.get("session") || "";
    const base = "/api/beds/" + encodeURIComponent(bed) + "/sessions/" + encodeURIComponent(session) + "/record";
    const siteQ = "site=" + encodeURIComponent(site);
    $("download-json").href = base + "?" + siteQ + "&download=1";
    $("download-csv").href = base + ".csv?" + siteQ + "&download=1";
    const response = await fetch(base + "?" + siteQ, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const r = await response.json().catch(() => ({}));
    if (response.status !== 200) {
      $("status").textContent = "No record: " + (r.error || response.status) + (response.status === 401 ? " — log in on the dashboard first." : "");
      return;
    }
    document.title = "Session record — " + (r.label || r.bed);
    $("bed-name").textContent = r.label ? r.label + " (" + r.bed + ")" : r.bed;
    $("site").textContent = r.site;
    $("edge").textContent = r.edge_id;
    $("session-id").textContent = r.session_id;
    $("generated").textContent = when(r.generated_at);
    $("facts").innerHTML = facts(r);
    $("ranges").innerHTML = ranges(r);
    $("charted").innerHTML = charted(r);
    $("charted-count").textContent = "(" + r.charted.length + " rows)";
    $("alarms").innerHTML = alarms(r);
    $("alarm-count").textContent = "(" + r.alarms.length + ")";
    $("limit-changes").innerHTML = limitChanges(r);
    $("limit-count").textContent = "(" + (r.limit_changes || []).length + ")";
    $("record").hidden = false;
    window.__record = r;
    showNote(r, base.replace(/\/record$/, "/note"), siteQ);
    const start = Date.parse(r.started_at) / 1000;
    const end = Date.parse(r.closed_at || r.observation_ends_at || r.generated_at) / 1000;
    const history = await fetch("/api/beds/" + encodeURIComponent(bed) + "/history?" + siteQ + "&since=" + Math.floor(start - 60) + "&until=" + Math.ceil(end + 60),
      { credentials: "same-origin" });
    if (history.status === 200) {
      const series = await history.json();
      series.sessions = series.sessions.filter((s) => s.session_id === r.session_id);
      Trends.large($("chart"), series, [start - 60, end + 60], { print: true, height: 150 });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("print").addEventListener("click", () => window.print());
    load().catch((e) => { $("status").textContent = "No record: " + e; });
  });
})();
