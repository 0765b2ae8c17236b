"use strict";
// trainguard dashboard: polls /dashboard/data and draws SVG charts (no external assets).
const COLORS = ["#b3261e", "#a36a00", "#1f5fbf", "#1b7f3b", "#6b3fa0", "#00838f", "#5d4037", "#c2185b"];
const SVGNS = "http://www.w3.org/2000/svg";
const params = new URLSearchParams(location.search);
const query = new URLSearchParams();
for (const k of ["minutes", "bucket_s", "tenant"]) if (params.get(k)) query.set(k, params.get(k));

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function legend(id, names) {
  const box = document.getElementById(id);
  box.replaceChildren(...names.map((n, i) => {
    const s = el("span"); const sw = el("i"); sw.style.background = COLORS[i % COLORS.length];
    s.append(sw, document.createTextNode(n)); return s;
  }));
}

// series: {name: [[x, y], ...]}; x in seconds, y >= 0
function lines(id, series, x0, x1, yLabel) {
  const svg = document.getElementById(id);
  const W = svg.clientWidth || 400, H = 180, L = 44, B = 22, T = 8, R = 8;
  const ymax = Math.max(1e-9, ...Object.values(series).flat().map(p => p[1]));
  const sx = x => L + (W - L - R) * (x - x0) / Math.max(1, x1 - x0);
  const sy = y => H - B - (H - B - T) * y / ymax;
  const kids = [el("svg:line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999"}),
                el("svg:line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#999"}),
                el("svg:text", {x: 2, y: T + 10, "font-size": 11}, fmt(ymax) + yLabel),
                el("svg:text", {x: 2, y: H - B, "font-size": 11}, "0"),
                el("svg:text", {x: L, y: H - 4, "font-size": 11}, new Date(x0 * 1000).toLocaleTimeString()),
                el("svg:text", {x: W - R - 60, y: H - 4, "font-size": 11}, new Date(x1 * 1000).toLocaleTimeString())];
  Object.entries(series).forEach(([name, pts], i) => {
    if (!pts.length) return;
    const d = pts.map((p, j) => (j ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ");
    kids.push(el("svg:path", {d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2, "data-series": name}));
    for (const p of pts) kids.push(el("svg:circle", {cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: COLORS[i % COLORS.length]}));
  });
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren(...kids);
  legend(id + "-legend", Object.keys(series));
}

function fmt(v) { return v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2); }

function cards(id, entries) {
  document.getElementById(id).replaceChildren(...entries.map(([label, value, cls]) => {
    const c = el("div", {class: "card " + (cls || "")}); c.append(el("b", {}, String(value)), document.createTextNode(label)); return c;
  }));
}

function render(d) {
  document.getElementById("scope").textContent =
    `tenant: ${d.tenant || "all"} · window ${Math.round(d.window_s / 60)} min · bucket ${d.bucket_s} s`;
  const t = d.totals;
  cards("totals", [["total", t.total || 0], ...["allow", "flag", "mask", "block"].map(k => [k, t[k] || 0, k])]);
  const x1 = d.generated, x0 = d.generated - d.window_s;
  const rates = {};
  for (const b of d.buckets) {
    const x = b.bucket + d.bucket_s / 2;
    for (const kind of ["block", "flag"]) {
      const name = `${b.tenant} ${kind}`;
      (rates[name] = rates[name] || []).push([x, 100 * (b.decisions[kind] || 0) / b.total]);
    }
  }
  lines("rates", rates, x0, x1, "%");
  const byCheck = {};
  const agg = {};
  for (const b of d.buckets) {
    const a = agg[b.bucket] = agg[b.bucket] || {total: 0, checks: {}};
    a.total += b.total;
    for (const [c, n] of Object.entries(b.checks)) a.checks[c] = (a.checks[c] || 0) + n;
  }
  for (const [bucket, a] of Object.entries(agg)) {
    for (const [c, n] of Object.entries(a.checks)) (byCheck[c] = byCheck[c] || []).push([+bucket + d.bucket_s / 2, 100 * n / a.total]);
  }
  lines("checks", byCheck, x0, x1, "%");
  cards("latency", [["p50", fmt(d.latency.p50)], ["p90", fmt(d.latency.p90)], ["p99", fmt(d.latency.p99)], ["texts", d.latency.n]]);
  lines("latency-chart", {
    p50: d.latency_buckets.map(b => [b.bucket + d.bucket_s / 2, b.p50]),
    p99: d.latency_buckets.map(b => [b.bucket + d.bucket_s / 2, b.p99]),
  }, x0, x1, " ms");
  document.getElementById("recent").replaceChildren(...d.recent.map(r => {
    const tr = el("tr", {"data-request": r.id});
    tr.append(el("td", {}, new Date(r.ts * 1000).toLocaleTimeString()), el("td", {}, r.tenant),
              el("td", {}, r.endpoint), el("td", {}, r.direction),
              el("td", {class: r.decision}, r.decision), el("td", {}, fmt(r.latency_ms) + " ms"),
              el("td", {class: "reasons", title: r.reasons.join("; ")}, r.reasons.join("; ")),
              el("td", {}, r.id.slice(0, 8)));
    return tr;
  }));
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const resp = await fetch("/dashboard/data?" + query, {credentials: "same-origin", cache: "no-store"});
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    render(await resp.json());
    status.className = ""; status.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "1";
  } catch (e) {
    status.className = "error"; status.textContent = "refresh failed: " + e.message;
  }
}

refresh();
setInterval(refresh, 2000);
