// The alarm limits in force for one bed, read-only, in the bed's larger view: what
// GET /api/beds/{bed}/limits?site= returns (the edge's retained config message), with since
// when they are in force (the edge's start, or the live reload that last changed them).
//
// Limits.show(el, site, bed)  fill el with the limits, or a line saying none were published
"use strict";

(function () {
  const SECTIONS = [
    ["hypertension", "Blood pressure", "mmHg"],
    ["spo2_low", "SpO2", "%"],
    ["hr_abnormal", "Heart rate", "/min"],
    ["rr_abnormal", "Respiration rate", "/min"],
    ["rate_deviation", "Delivered vs programmed rate", "%"],
    ["setpoint_mismatch", "Programmed rate vs order", "%"],
    ["device_offline", "Device offline", ""],
    ["link_errors", "Link errors", "%"],
    ["escalation", "Escalation", "s"],
  ];
  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const words = (key) => key.replace(/_s$/, " (s)").replace(/_pct$/, "").replace(/_/g, " ");

  function section(limits, [key, title, unit]) {
    const values = limits[key];
    if (!values) return "";
    const parts = Object.entries(values).map(([name, value]) => esc(words(name)) + " <b>" + esc(value) + "</b>");
    return "<tr><th scope=\"row\">" + esc(title) + (unit ? " (" + esc(unit) + ")" : "") + "</th><td>" + parts.join(", ") + "</td></tr>";
  }

  async function show(el, site, bed) {
    const path = "/api/beds/" + encodeURIComponent(bed) + "/limits?site=" + encodeURIComponent(site);
    let response;
    try {
      response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (error) {
      el.textContent = "Alarm limits unavailable: " + error.message;
      return;
    }
    if (response.status !== 200) {
      el.textContent = "No alarm limits published for this bed yet.";
      return;
    }
    const data = await response.json();
    const since = new Date(data.since).toLocaleString([], { hour12: false });
    el.innerHTML = '<p class="limits-since">In force since <time datetime="' + esc(data.since) + '">' + esc(since) + "</time></p>" +
      '<table class="limits-table">' + SECTIONS.map((s) => section(data.limits, s)).join("") + "</table>";
  }

  window.Limits = { show };
})();
