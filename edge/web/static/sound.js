// Audible alarm signals in the browser, off until the nurse turns them on (a browser plays
// sound only after a click). In the spirit of IEC 60601-1-8: a distinct burst per priority,
// repeated while an alarm of that priority is active or latched and not acknowledged; the
// highest such priority sounds, and acknowledging an alarm silences it (a lower one then
// sounds, if any). The button shows whether sound is on; the bedside device stays primary.
//
// high:   5 pulses (3 + 2), 150 ms each, 660 Hz, every 7 s
// medium: 3 pulses, 200 ms, 520 Hz, every 15 s
// low:    2 pulses, 220 ms, 440 Hz, every 30 s
"use strict";

(function () {
  const PATTERNS = {
    high: { rank: 3, hz: 660, pulse: 0.15, at: [0, 0.25, 0.5, 1.0, 1.25], every: 7 },
    medium: { rank: 2, hz: 520, pulse: 0.2, at: [0, 0.4, 0.8], every: 15 },
    low: { rank: 1, hz: 440, pulse: 0.22, at: [0, 0.5], every: 30 },
  };

  const state = { on: false, ctx: null, lastPriority: null, lastAt: 0, played: [] };

  function due(alarms) {
    // the highest priority among alarms that are sounding: active or latched, unacknowledged
    let best = null;
    for (const alarm of alarms) {
      if (alarm.state !== "active" && alarm.state !== "latched") continue;
      const p = PATTERNS[alarm.priority];
      if (p && (!best || p.rank > PATTERNS[best].rank)) best = alarm.priority;
    }
    return best;
  }

  function burst(priority) {
    const p = PATTERNS[priority];
    const ctx = state.ctx;
    state.played.push({ priority, at: Date.now() });
    if (state.played.length > 100) state.played.shift();
    if (!ctx) return;
    const start = ctx.currentTime + 0.02;
    for (const offset of p.at) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "triangle";
      osc.frequency.value = p.hz;
      const t0 = start + offset;
      gain.gain.setValueAtTime(0, t0);
      gain.gain.linearRampToValueAtTime(0.25, t0 + 0.02); // soft edges, no clicks
      gain.gain.setValueAtTime(0.25, t0 + p.pulse - 0.03);
      gain.gain.linearRampToValueAtTime(0, t0 + p.pulse);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + p.pulse + 0.05);
    }
  }

  // Called about once a second with the shown alarms.
  function update(alarms) {
    const priority = state.on ? due(alarms) : null;
    state.current = priority;
    if (!priority) { state.lastPriority = null; return; }
    const now = Date.now();
    const broke = priority !== state.lastPriority; // a new or higher priority sounds at once
    if (broke || now - state.lastAt >= PATTERNS[priority].every * 1000) {
      state.lastPriority = priority;
      state.lastAt = now;
      burst(priority);
    }
  }

  function set(on) {
    state.on = on;
    if (on && !state.ctx && window.AudioContext) state.ctx = new AudioContext();
    if (on && state.ctx && state.ctx.state === "suspended") state.ctx.resume();
    state.lastPriority = null;
    const button = document.getElementById("sound-toggle");
    button.setAttribute("aria-pressed", String(on));
    button.classList.toggle("on", on);
    button.textContent = on ? "Alarm sound: ON" : "Alarm sound: off (click to turn on)";
  }

  function toggle() { set(!state.on); }

  window.AlarmSound = { update, toggle, set, state, PATTERNS };
})();
