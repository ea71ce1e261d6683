// Trends of one bed drawn with uPlot (vendored in /static/vendor/uplot, MIT): the series of
// GET /api/beds/{bed}/history, kept up to date from the live bed events, with the session's
// phase boundaries, the alarm marks and the alarm limits on one time axis.
//
// Trends.mini(el, series, range, width)  a card's trend: vitals (BP, HR, SpO2) and the pump
// Trends.large(el, series, range, opts)  three panels: BP, HR + SpO2, pump rate + volume
// Trends.refresh(el, series, range)      new points on a small trend
// Trends.append(series, bed)     take the newest values of a live bed event; true if any
// Each chart's uPlot instance is el.uplots (a list); its alarm marks are u.marks
// ({t, priority, x, y}, in CSS pixels of the canvas), drawn as a coloured triangle at the top
// on each raise and each rise of priority.
"use strict";

(function () {
  const COLORS = {
    sbp: "#ff8a8a", dbp: "#ffc18a", hr: "#7ee787", spo2: "#79c0ff", rr: "#d2a8ff",
    rate: "#e3b341", volume: "#a5d6ff", limit: "#ff5c5c", rise: "#ffb000",
    high: "#d7001f", medium: "#ffd400", low: "#00c2e0", phase: "#9aa4ad",
    axis: "#a9b3bc", grid: "rgba(255,255,255,0.08)",
  };
  const PRINT = { axis: "#333", grid: "rgba(0,0,0,0.12)", phase: "#555" };
  const PHASE_WORDS = {
    started_at: "baseline", infusion_started_at: "infusion", infusion_stopped_at: "observation",
    closed_at: "closed",
  };

  function empty() {
    return {
      vitals: { t: [], hr: [], spo2: [], rr: [] },
      nibp: { t: [], sbp: [], dbp: [], map: [] },
      pump: { t: [], rate: [], volume: [], state: [] },
      sessions: [], alarms: [], marks: [], limits: {},
    };
  }

  const sec = (iso) => (iso ? Date.parse(iso) / 1000 : NaN);

  function push(table, t, values) {
    const ts = table.t;
    if (!isFinite(t) || (ts.length && t <= ts[ts.length - 1])) return false;
    ts.push(t);
    for (const [name, value] of Object.entries(values)) table[name].push(value);
    return true;
  }

  function append(series, bed) {
    const v = bed.vitals || {};
    let changed = false;
    const cont = v.hr || v.spo2 || v.rr;
    if (cont) {
      changed = push(series.vitals, sec(cont.ts), {
        hr: v.hr ? v.hr.value : null, spo2: v.spo2 ? v.spo2.value : null, rr: v.rr ? v.rr.value : null,
      }) || changed;
    }
    if (v.sbp) {
      changed = push(series.nibp, sec(v.sbp.ts), {
        sbp: v.sbp.value, dbp: v.dbp ? v.dbp.value : null, map: v.map ? v.map.value : null,
      }) || changed;
    }
    const pump = (bed.pumps || [])[0];
    if (pump) {
      const pv = pump.values || {};
      changed = push(series.pump, sec(pump.ts), {
        rate: pv.rate ? pv.rate.value : null, volume: pv.volume ? pv.volume.value : null, state: pump.state,
      }) || changed;
    }
    return changed;
  }

  function trim(series, since) {
    for (const table of [series.vitals, series.nibp, series.pump]) {
      let cut = 0;
      while (cut < table.t.length && table.t[cut] < since) cut++;
      if (cut) for (const key of Object.keys(table)) table[key].splice(0, cut);
    }
  }

  // ---- drawing helpers (canvas pixels) -----------------------------------------------------

  function boundaries(series) {
    const out = [];
    for (const s of series.sessions) {
      for (const [field, word] of Object.entries(PHASE_WORDS)) {
        const t = sec(s[field]);
        if (!isFinite(t)) continue;
        if (field === "started_at" && s.infusion_started_at === s.started_at) continue;
        out.push({ t, word: field === "infusion_started_at" && s.infusion_started_estimated ? "infusion (est.)" : word });
      }
    }
    return out;
  }

  function drawOverlays(u, series, opts) {
    const ctx = u.ctx, b = u.bbox, dpr = devicePixelRatio || 1;
    const theme = opts.print ? PRINT : COLORS;
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.left, b.top, b.width, b.height);
    ctx.clip();
    ctx.font = Math.round(10 * dpr) + "px sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.lineWidth = dpr;
    for (const p of boundaries(series)) {
      const x = u.valToPos(p.t, "x", true);
      if (x < b.left || x > b.left + b.width) continue;
      ctx.strokeStyle = theme.phase;
      ctx.setLineDash([4 * dpr, 3 * dpr]);
      ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
      if (opts.labels) { ctx.fillStyle = theme.phase; ctx.fillText(p.word, x + 3 * dpr, b.top + b.height - 4 * dpr); }
    }
    ctx.setLineDash([]);
    for (const line of opts.hlines || []) {
      if (!isFinite(line.value)) continue;
      const y = u.valToPos(line.value, line.scale, true);
      ctx.strokeStyle = line.color;
      ctx.setLineDash(line.dash ? [6 * dpr, 4 * dpr] : []);
      ctx.beginPath(); ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke();
      if (opts.labels && line.label) { ctx.fillStyle = line.color; ctx.fillText(line.label, b.left + 3 * dpr, y - 3 * dpr); }
    }
    ctx.setLineDash([]);
    u.marks = [];
    const size = (opts.labels ? 7 : 5) * dpr;
    for (const alarm of series.marks || []) {
      const x = u.valToPos(alarm.t, "x", true);
      if (x < b.left - 1 || x > b.left + b.width + 1) continue;
      const color = COLORS[alarm.priority] || COLORS.low;
      ctx.strokeStyle = color;
      ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
      ctx.fillStyle = color;
      ctx.beginPath(); ctx.moveTo(x - size, b.top); ctx.lineTo(x + size, b.top); ctx.lineTo(x, b.top + 1.6 * size); ctx.closePath(); ctx.fill();
      u.marks.push({ t: alarm.t, priority: alarm.priority, rule: alarm.rule, transition: alarm.transition, x: x / dpr, y: (b.top + 0.5 * size) / dpr });
    }
    ctx.restore();
  }

  const hhmm = (s) => new Date(s * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });

  function axis(scale, side, theme, label, size) {
    const out = {
      scale, side, stroke: theme.axis, size: size || 44, label, labelSize: label ? 16 : 0,
      grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid },
    };
    if (scale === "x") { out.values = (u, splits) => splits.map(hhmm); out.size = 30; }
    return out;
  }

  function line(label, scale, color, points) {
    return {
      label, scale, stroke: color, width: 2, spanGaps: true,
      points: { show: !!points, size: points ? 6 : 0, fill: color, stroke: color },
    };
  }

  function make(el, opts, data, series, overlay) {
    const u = new uPlot(Object.assign({
      legend: { show: !!overlay.legend },
      cursor: { sync: overlay.sync ? { key: overlay.sync } : undefined, drag: { x: false, y: false } },
      hooks: { draw: [(plot) => drawOverlays(plot, series, overlay)] },
    }, opts), data, el);
    return u;
  }

  function xScale(range) {
    return { time: true, auto: false, range: [range[0], range[1]] };
  }

  function bpLimits(series, labels) {
    const l = series.limits || {};
    const lines = [
      { scale: "bp", value: l.sbp_medium, color: COLORS.limit, label: labels ? "SYS limit " + l.sbp_medium : "" },
      { scale: "bp", value: l.dbp_medium, color: COLORS.limit, dash: true, label: labels ? "DIA limit " + l.dbp_medium : "" },
    ];
    const open = series.sessions.find((s) => s.baseline_systolic);
    if (open && l.sbp_rise) {
      lines.push({ scale: "bp", value: open.baseline_systolic + l.sbp_rise, color: COLORS.rise, dash: true, label: labels ? "baseline +" + l.sbp_rise : "" });
    }
    return lines;
  }

  // ---- the charts --------------------------------------------------------------------------

  // uPlot listens on the window (resize, scroll): a chart that is replaced must be destroyed.
  function destroy(el) {
    for (const u of el.uplots || []) u.destroy();
    el.uplots = [];
    el.replaceChildren();
  }

  // The card's trend: vital signs above (SYS/DIA with the BP limits, HR, SpO2 on its own
  // scale near the top), the pump below (rate stepped, volume infused), one time axis.
  function miniData(series) {
    return [
      uPlot.join([[series.nibp.t, series.nibp.sbp, series.nibp.dbp], [series.vitals.t, series.vitals.hr, series.vitals.spo2]]),
      [series.pump.t, series.pump.rate, series.pump.volume],
    ];
  }

  function mini(el, series, range, width) {
    const w = Math.max(120, width || el.clientWidth || 240);
    const thin = (s) => Object.assign(s, { width: 1 });
    const vitals = {
      width: w, height: 60, padding: [4, 2, 0, 2],
      scales: { x: xScale(range), bp: { range: [40, 210] }, hr: { range: [30, 160] }, spo2: { range: [60, 101] } },
      axes: [{ show: false }, { scale: "bp", show: false }, { scale: "hr", show: false }, { scale: "spo2", show: false }],
      series: [{}, line("SYS", "bp", COLORS.sbp, true), line("DIA", "bp", COLORS.dbp, true),
        thin(line("HR", "hr", COLORS.hr, false)), thin(line("SpO₂", "spo2", COLORS.spo2, false))],
    };
    const pump = {
      width: w, height: 26, padding: [2, 2, 0, 2],
      scales: { x: xScale(range), rate: { range: (u, lo, hi) => [0, Math.max(10, (hi || 0) * 1.2)] }, vol: { range: (u, lo, hi) => [0, Math.max(10, (hi || 0) * 1.1)] } },
      axes: [{ show: false }, { scale: "rate", show: false }, { scale: "vol", show: false }],
      series: [{}, thin(line("Rate", "rate", COLORS.rate, false)), thin(line("Volume", "vol", COLORS.volume, false))],
    };
    destroy(el);
    const [vData, pData] = miniData(series);
    el.uplots = [
      make(el, vitals, vData, series, { hlines: bpLimits(series, false) }),
      make(el, pump, pData, series, { hlines: [] }),
    ];
    return el.uplots;
  }

  function large(el, series, range, options) {
    const print = !!(options && options.print);
    const theme = print ? PRINT : COLORS;
    const width = Math.max(320, el.clientWidth || 900);
    const height = (options && options.height) || 210;
    const sync = "bed-" + Math.random().toString(36).slice(2);
    const common = { labels: true, legend: true, sync, print };
    destroy(el);
    const panels = [
      { title: "Blood pressure (mmHg)", data: [series.nibp.t, series.nibp.sbp, series.nibp.dbp],
        scales: { x: xScale(range), bp: { range: [40, 220] } },
        axes: [axis("x", 2, theme), axis("bp", 3, theme, "mmHg")],
        series: [{}, line("SYS", "bp", COLORS.sbp, true), line("DIA", "bp", COLORS.dbp, true)],
        hlines: bpLimits(series, true) },
      { title: "Heart rate (/min) and SpO₂ (%)", data: [series.vitals.t, series.vitals.hr, series.vitals.spo2],
        scales: { x: xScale(range), hr: { range: [30, 170] }, spo2: { range: [80, 101] } },
        axes: [axis("x", 2, theme), axis("hr", 3, theme, "/min"), axis("spo2", 1, theme, "%")],
        series: [{}, line("HR", "hr", COLORS.hr), line("SpO₂", "spo2", COLORS.spo2)],
        hlines: [{ scale: "spo2", value: (series.limits || {}).spo2_medium_below, color: COLORS.limit, dash: true, label: "SpO₂ limit" }] },
      { title: "Pump: rate (mL/h) and volume infused (mL)", data: [series.pump.t, series.pump.rate, series.pump.volume],
        scales: { x: xScale(range), rate: { range: (u, lo, hi) => [0, Math.max(10, (hi || 0) * 1.2)] }, vol: { range: (u, lo, hi) => [0, Math.max(10, (hi || 0) * 1.1)] } },
        axes: [axis("x", 2, theme), axis("rate", 3, theme, "mL/h"), axis("vol", 1, theme, "mL")],
        series: [{}, line("Rate", "rate", COLORS.rate), line("Volume", "vol", COLORS.volume)],
        hlines: [] },
    ];
    el.uplots = panels.map((p) => {
      const box = document.createElement("figure");
      box.className = "trend-panel";
      const caption = document.createElement("figcaption");
      caption.textContent = p.title;
      box.append(caption);
      el.append(box);
      const opts = { width, height, scales: p.scales, axes: p.axes, series: p.series };
      return make(box, opts, p.data, series, Object.assign({ hlines: p.hlines }, common));
    });
    return el.uplots;
  }

  // A card's trend with new points (the large view is rebuilt instead).
  function refresh(el, series, range) {
    if (!el.uplots || el.uplots.length !== 2) return;
    miniData(series).forEach((data, i) => {
      const u = el.uplots[i];
      u.setData(data, false);
      u.setScale("x", { min: range[0], max: range[1] });
    });
  }

  window.Trends = { COLORS, empty, append, trim, mini, large, refresh, destroy };
})();
