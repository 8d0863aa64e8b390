// qframe's live pipeline page: polls `graph` every second, taps a node on a click.
// Every URL is relative (the page works behind a reverse proxy under any prefix).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "qframe-token";
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  const hash = new URLSearchParams(location.hash.slice(1));
  let initialTap = hash.get("tap");  // #tap=NAME: tap that instance once the graph is shown
  if (hash.get("token")) {  // #token=… (never sent to the server): kept, then removed
    token = hash.get("token");
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  if (hash.get("token") || initialTap) history.replaceState(null, "", location.pathname + location.search);
  let prev = null;       // the last graph
  let tapping = null;    // {name, controller}
  let shape = "";        // the instance keys and edges drawn

  function headers() {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  function fmtRate(v) {
    if (v >= 10000) return (v / 1000).toFixed(0) + "k/s";
    if (v >= 10) return v.toFixed(0) + "/s";
    return v.toFixed(1) + "/s";
  }

  function depths(instances) {
    const byKey = new Map(instances.map((i) => [i.key, i]));
    const memo = new Map();
    const depth = (key, seen) => {
      if (memo.has(key)) return memo.get(key);
      const inst = byKey.get(key);
      let d = 0;
      if (inst && !seen.has(key)) {
        seen.add(key);
        for (const up of inst.inputs) d = Math.max(d, depth(up, seen) + 1);
      }
      memo.set(key, d);
      return d;
    };
    instances.forEach((i) => depth(i.key, new Set()));
    return memo;
  }

  function build(g) {
    const cols = $("columns");
    cols.textContent = "";
    const d = depths(g.instances);
    const n = Math.max(0, ...d.values()) + 1;
    const columns = [];
    for (let i = 0; i < n; i++) {
      const c = document.createElement("div");
      c.className = "column";
      cols.appendChild(c);
      columns.push(c);
    }
    for (const inst of g.instances) {
      const el = document.createElement("div");
      el.className = "node";
      el.dataset.key = inst.key;
      el.dataset.name = inst.name;
      el.tabIndex = 0;
      el.title = "click to tap " + inst.name;
      el.innerHTML = '<div class="name"></div><div class="kind"></div>' +
        '<div class="rate"></div><div class="bad"></div><div class="queue"><div></div></div>';
      el.querySelector(".name").textContent = inst.name;
      el.querySelector(".kind").textContent = inst.type + " · " + inst.kind;
      el.addEventListener("click", () => startTap(inst.name));
      el.addEventListener("keydown", (e) => { if (e.key === "Enter") startTap(inst.name); });
      columns[d.get(inst.key)].appendChild(el);
    }
  }

  function drawEdges(g) {
    const svg = $("edges");
    const box = $("graph").getBoundingClientRect();
    const vertical = $("graph").dataset.layout === "vertical";
    const parts = [];
    const nodeEl = (key) => document.querySelector('.node[data-key="' + CSS.escape(key) + '"]');
    for (const inst of g.instances) {
      const to = nodeEl(inst.key);
      for (const up of inst.inputs) {
        const from = nodeEl(up);
        if (!from || !to) continue;
        const a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
        let x1, y1, x2, y2, path;
        if (vertical) {
          x1 = a.left + a.width / 2 - box.left; y1 = a.bottom - box.top;
          x2 = b.left + b.width / 2 - box.left; y2 = b.top - box.top;
          const m = (y1 + y2) / 2;
          path = `M${x1},${y1} C${x1},${m} ${x2},${m} ${x2},${y2}`;
        } else {
          x1 = a.right - box.left; y1 = a.top + a.height / 2 - box.top;
          x2 = b.left - box.left; y2 = b.top + b.height / 2 - box.top;
          const m = (x1 + x2) / 2;
          path = `M${x1},${y1} C${m},${y1} ${m},${y2} ${x2},${y2}`;
        }
        const cls = inst.branch === "false" ? "edge else" : inst.branch === "any" ? "edge any" : "edge";
        parts.push(`<path class="${cls}" data-from="${up}" data-to="${inst.key}" d="${path}"/>`);
        if (inst.branch !== "true") {
          const label = inst.branch === "false" ? "else" : "any";
          parts.push(`<text class="edge-label" x="${(x1 + x2) / 2 + 3}" y="${(y1 + y2) / 2 - 3}">${label}</text>`);
        }
      }
    }
    svg.innerHTML = parts.join("");
  }

  const recent = [];  // recent graphs: rates over at least a second of the daemon's time

  function update(g) {
    recent.push(g);
    while (recent.length > 1 && g.uptime_s - recent[1].uptime_s >= 1.0) recent.shift();
    const base = recent.length > 1 ? recent[0] : null;
    const dt = base ? g.uptime_s - base.uptime_s : 0;
    const before = new Map((base ? base.instances : []).map((i) => [i.key, i]));
    let tin = 0, tout = 0, errors = 0, drops = 0;
    const states = [];
    for (const inst of g.instances) {
      const el = document.querySelector('.node[data-key="' + CSS.escape(inst.key) + '"]');
      if (!el) continue;
      const old = before.get(inst.key);
      const count = inst.type === "handler" ? "received" : "emitted";
      const rate = old && dt > 0 ? Math.max(0, (inst[count] - old[count]) / dt) : 0;
      if (inst.type === "collector") tin += rate;
      if (inst.type === "handler") tout += rate;
      const dropped = Object.values(inst.dropped || {}).reduce((a, b) => a + b, 0);
      errors += inst.errors; drops += dropped;
      if (inst.state !== "stopped") states.push(inst.state);
      el.className = "node " + inst.state + (tapping && tapping.name === inst.name ? " tapped" : "");
      el.dataset.rate = rate.toFixed(1);
      el.dataset.state = inst.state;
      el.querySelector(".rate").textContent = (inst.type === "handler" ? "in " : "out ") + fmtRate(rate);
      const bad = [];
      if (inst.errors) bad.push(inst.errors + " errors");
      if (dropped) bad.push(dropped + " dropped");
      if (inst.restarts) bad.push(inst.restarts + " restarts");
      el.querySelector(".bad").textContent = bad.join(" · ");
      const q = el.querySelector(".queue");
      q.hidden = !inst.queue_capacity;
      if (inst.queue_capacity) {
        q.title = "queue " + inst.queue_depth + " of " + inst.queue_capacity;
        q.firstChild.style.width = (100 * inst.queue_depth / inst.queue_capacity).toFixed(1) + "%";
      }
      el.title = (inst.reason ? inst.state + ": " + inst.reason + "\n" : "") + "click to tap " + inst.name;
    }
    const status = states.includes("failed") ? "failed"
      : states.some((s) => s === "degraded" || s === "starting") ? "degraded" : "ok";
    $("status").textContent = status;
    $("status").className = "pill " + status;
    $("totals").textContent = `in ${fmtRate(tin)} · out ${fmtRate(tout)} · errors ${errors} · drops ${drops}`;
    prev = g;
  }

  async function poll() {
    try {
      const r = await fetch("graph", { headers: headers(), cache: "no-store" });
      if (r.status === 401) {
        $("login").hidden = false;
        $("status").textContent = "token needed";
        return;
      }
      if (!r.ok) throw new Error("graph: " + r.status);
      $("login").hidden = true;
      const g = await r.json();
      const s = JSON.stringify(g.instances.map((i) => [i.key, i.inputs, i.branch]));
      const layout = window.innerWidth < 700 ? "vertical" : "horizontal";
      if (s !== shape || $("graph").dataset.layout !== layout) {
        $("graph").dataset.layout = layout;
        build(g);
        shape = s;
      }
      update(g);
      drawEdges(g);
      document.body.dataset.ready = "1";
      if (initialTap) {
        startTap(initialTap);
        initialTap = null;
      }
    } catch (e) {
      $("status").textContent = "unreachable";
      $("status").className = "pill failed";
    } finally {
      setTimeout(poll, 1000);
    }
  }

  async function startTap(name) {
    stopTap();
    const lines = $("tap-lines");
    lines.textContent = "";
    $("tap").hidden = false;
    $("tap-name").textContent = name;
    if (prev && !prev.tap) {
      $("tap-stats").textContent = "tapping is off (http-tap: true in the config enables it)";
      return;
    }
    const controller = new AbortController();
    tapping = { name, controller };
    $("tap-stats").textContent = "waiting for messages…";
    try {
      const r = await fetch("tap?rate=20&instance=" + encodeURIComponent(name),
        { headers: headers(), signal: controller.signal });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        $("tap-stats").textContent = "refused: " + (body.error || r.status);
        return;
      }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "", shown = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const obj = JSON.parse(line);
          if (obj.tap) {
            const d = obj.tap.dropped;
            $("tap-stats").textContent = `${shown} shown · ${d.rate} over the rate · ${d.full} lagged` +
              (obj.tap.end ? " · ended" : "");
            continue;
          }
          shown++;
          $("tap-stats").textContent = `${shown} shown`;
          const li = document.createElement("li");
          li.textContent = JSON.stringify(obj.message);
          lines.prepend(li);
          while (lines.children.length > 100) lines.lastChild.remove();
        }
      }
    } catch (e) {
      if (e.name !== "AbortError") $("tap-stats").textContent = "tap ended: " + e.message;
    }
  }

  function stopTap() {
    if (tapping) tapping.controller.abort();
    tapping = null;
  }

  $("tap-stop").addEventListener("click", () => { stopTap(); $("tap").hidden = true; });
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value;
    sessionStorage.setItem(TOKEN_KEY, token);
    poll();
  });
  window.addEventListener("resize", () => { if (prev) { shape = ""; } });
  poll();
})();
