// The store dashboard: each page asks serve's JSON API (/api/v1/stores/{store}/...) for its measures and
// draws them; the overview's live tiles follow the log through server-sent events (/live), not SQL polls.
// Times arrive as local ISO strings of the store's time zone, so they are shown as they come.
import { chart } from "./charts.js";
import { floorPlan } from "./floor.js";

const body = document.body;
const store = body.dataset.store;
const page = body.dataset.page;
const params = new URLSearchParams(location.search);
const content = document.getElementById("content");
const api = (route, extra = {}) => {
  const q = new URLSearchParams();
  for (const key of ["at", "from", "to", "bucket"]) if (params.get(key)) q.set(key, params.get(key));
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return fetch(`/api/v1/stores/${encodeURIComponent(store)}/${route}?${q}`, { credentials: "same-origin" })
    .then(async (r) => {
      if (!r.ok) throw new Error(`${route}: ${r.status} ${(await r.json().catch(() => ({}))).error || r.statusText}`);
      return r.json();
    });
};

const fmt = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });
const num = (v) => (v === null || v === undefined ? "–" : fmt.format(v));
const pct = (v) => (v === null || v === undefined ? "no comparison" : `${v > 0 ? "+" : ""}${fmt.format(v)} %`);
const hhmm = (iso) => iso.slice(11, 16);
const label = (iso, bucket) => (["1d", "1w", "1mo"].includes(bucket) ? iso.slice(0, 10) : `${iso.slice(5, 10)} ${hhmm(iso)}`);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function tile(id, title, value, unit, note) {
  return el("section", { class: "tile", id, "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title`, text: title }),
    el("p", { class: "value" }, el("span", { class: "number", "data-testid": id, text: value }), el("span", { class: "unit", text: ` ${unit}` })),
    el("p", { class: "note", text: note }));
}

function table(caption, headers, rows) {
  const t = el("table", {}, el("caption", { text: caption }));
  t.append(el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))));
  const tb = el("tbody");
  for (const row of rows) tb.append(el("tr", {}, ...row.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { text: String(c) })))));
  t.append(tb);
  return t;
}

function setTile(id, value, note) {
  const node = document.querySelector(`[data-testid="${id}"]`);
  if (node) node.textContent = value;
  if (note !== undefined) node.closest(".tile").querySelector(".note").textContent = note;
}

// ---- pages ----------------------------------------------------------------------------------------------

async function overview() {
  const o = await api("overview");
  const queue = o.queue_now[0];
  const tiles = el("div", { class: "tiles" },
    tile("visits-today", "Visits today so far", num(o.visits_today), "visits",
      `same weekday last week: ${num(o.visits_same_weekday_last_week)} (${pct(o.visits_change_pct)})`),
    tile("occupancy-now", "Occupancy now", num(o.occupancy_now), "people",
      o.occupancy_at ? `sampled at ${hhmm(o.occupancy_at)}` : "no sample in the last 10 minutes"),
    tile("queue-now", "Queue now", queue ? num(queue.queue_length) : "–", "people",
      queue ? `estimated wait ${num(queue.est_wait_s)} s (${queue.zone_id})` : "no queue sample in the last 10 minutes"),
    tile("alerts-open", "Open alerts", num(o.open_alerts.length), "alerts",
      o.open_alerts.map((a) => `${a.rule_id} since ${new Date(a.raised_ms).toISOString().slice(11, 16)} UTC`).join("; ") || "none"));
  content.append(el("p", { class: "as-of", text: `As of ${o.at.replace("T", " ")} (${o.time_zone}); day from ${o.day_start.replace("T", " ")}` }), tiles);
  const day = o.day_start.slice(0, 10);
  const t = await api("trends", { from: day, to: o.at, bucket: "1h" });
  const lastWeek = await api("trends", { from: shiftDays(day, -7), to: shiftDays(o.at, -7), bucket: "1h" });
  chart(content, "Visits per hour, today and the same weekday last week", "visits started per local hour",
    { legend: {}, xAxis: { type: "category", name: "hour", data: t.buckets.map(hhmm) },
      yAxis: { type: "value", name: "visits" },
      series: [{ name: "today", type: "bar", data: t.visits }, { name: "same weekday last week", type: "line", data: lastWeek.visits }] });
  live(o);
}

function shiftDays(iso, days) {
  // ISO date or local date-time with offset: shift the calendar date, keep the clock and offset text.
  const date = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10) + iso.slice(10);
}

function live(o) {
  const status = document.getElementById("live-status");
  const source = new EventSource(`/api/v1/stores/${encodeURIComponent(store)}/live`);
  let visits = o.visits_today;
  const pinned = params.has("at"); // a past moment: its count is history, live visits belong to today
  source.addEventListener("open", () => { status.textContent = "live: connected"; });
  source.addEventListener("error", () => { status.textContent = "live: reconnecting"; });
  source.addEventListener("update", (e) => {
    const u = JSON.parse(e.data);
    if (u.occupancy) setTile("occupancy-now", num(u.occupancy.people), `live, sampled at ${new Date(u.occupancy.ts_ms).toISOString().slice(11, 19)} UTC`);
    if (u.queues && u.queues.length) {
      const q = u.queues[0];
      setTile("queue-now", num(q.queue_length), `live: estimated wait ${num(q.est_wait_s)} s (${q.zone_id})`);
    }
    if (u.visits_ended && !pinned) { visits += u.visits_ended; setTile("visits-today", num(visits)); }
    if (u.alerts && u.alerts.length) {
      const a = u.alerts[u.alerts.length - 1];
      setTile("alerts-open", document.querySelector('[data-testid="alerts-open"]').textContent, `live: ${a.rule_id} ${a.state}`);
    }
  });
}

async function floor() {
  const [layout, heat, zones] = await Promise.all([api("layout"), api("heatmap"), api("zones")]);
  await floorPlan(content, layout, heat, zones);
  content.append(table("Zones: dwell in seconds (hover a zone on the plan for the same figures)",
    ["zone", "kind", "stays", "median dwell (s)", "p90 dwell (s)"],
    layout.zones.map((z) => {
      const d = zones.zones.find((r) => r.zone_id === z.zone_id);
      return [z.zone_id, z.kind, d ? d.stays : 0, d ? num(d.median_s) : "–", d ? num(d.p90_s) : "–"];
    })));
}

async function trends() {
  const t = await api("trends");
  const x = { type: "category", name: "local time", data: t.buckets.map((b) => label(b, t.bucket)) };
  content.append(el("div", { class: "tiles" },
    tile("visits-total", "Visits in the window", num(t.visits_total), "visits", `previous period: ${num(t.previous_visits_total)} (${pct(t.visits_change_pct)})`)));
  chart(content, "Visits", `customer visits per ${t.bucket} bucket, this period and the one before`,
    { legend: {}, xAxis: x, yAxis: { type: "value", name: "visits" },
      series: [{ name: "this period", type: "bar", data: t.visits }, { name: "previous period", type: "line", data: t.previous_visits }] });
  chart(content, "Entries and exits per door", `people crossing each counting line per ${t.bucket} bucket`,
    { legend: {}, xAxis: x, yAxis: { type: "value", name: "people" },
      series: t.doors.flatMap((d) => [{ name: `${d.line_id} entries`, type: "bar", data: d.entries }, { name: `${d.line_id} exits`, type: "bar", data: d.exits }]) });
  chart(content, "Occupancy", "people in the store: peak and mean of the samples in each bucket",
    { legend: {}, xAxis: x, yAxis: { type: "value", name: "people" },
      series: [{ name: "peak", type: "line", data: t.occupancy_peak }, { name: "mean", type: "line", data: t.occupancy_mean }] });
}

async function zonesPage() {
  const z = await api("zones");
  const ids = z.zones.map((r) => r.zone_id);
  content.append(table("Dwell per zone (seconds), engagement = share of stays of 15 s or more",
    ["zone", "stays", "visits", "median (s)", "p90 (s)", "mean (s)", "engaged"],
    z.zones.map((r) => [r.zone_id, r.stays, r.visits, num(r.median_s), num(r.p90_s), num(r.mean_s), `${fmt.format(100 * r.engaged_share)} %`])));
  chart(content, "Dwell per zone", "seconds: median and 90th percentile of each zone's stays",
    { legend: {}, xAxis: { type: "category", name: "zone", data: ids }, yAxis: { type: "value", name: "seconds" },
      series: [{ name: "median", type: "bar", data: z.zones.map((r) => r.median_s) }, { name: "p90", type: "bar", data: z.zones.map((r) => r.p90_s) }] });
  chart(content, "Dwell distribution", `stays per ${z.bin_s}-second bin of dwell (the last bin: 300 s and over)`,
    { legend: { type: "scroll" }, xAxis: { type: "category", name: "dwell (s)", data: z.zones[0] ? z.zones[0].histogram_s.map((_, i) => `${i * z.bin_s}`) : [] },
      yAxis: { type: "value", name: "stays" }, series: z.zones.map((r) => ({ name: r.zone_id, type: "line", data: r.histogram_s })) });
}

async function journeys() {
  const j = await api("journeys");
  const f = j.funnel;
  content.append(el("div", { class: "tiles" },
    tile("conversion", "POS conversion", f.conversion === null ? "–" : fmt.format(100 * f.conversion), "%", `${num(f.transactions)} transactions / ${num(f.entered)} visits`)));
  chart(content, "Funnel", "visits reaching each stage: entered, engaged (15 s in a product zone), queued, checked out",
    { tooltip: { trigger: "item" }, series: [{ type: "funnel", sort: "none", left: "10%", width: "65%", label: { formatter: "{b}: {c} visits" },
      data: [["entered", f.entered], ["engaged", f.engaged], ["queued", f.queued], ["checked out", f.checked_out]].map(([name, value]) => ({ name, value })) }] });
  const index = Object.fromEntries(j.states.map((s, i) => [s, i]));
  chart(content, "Transitions between zones", "visits moving from the row's zone to the column's zone",
    { tooltip: { position: "top" }, grid: { left: 110, right: 24, top: 24, bottom: 100 },
      xAxis: { type: "category", name: "to", data: j.states, axisLabel: { rotate: 45 } }, yAxis: { type: "category", name: "from", data: j.states },
      visualMap: { min: 0, max: Math.max(1, ...j.transitions.map((t) => t.n)), calculable: true, orient: "horizontal", left: "center", bottom: 0 },
      series: [{ type: "heatmap", label: { show: true }, data: j.transitions.map((t) => [index[t.to_state], index[t.from_state], t.n]) }] }, 460);
  // A flow diagram of the same matrix: each zone on the left, the zone it leads to on the right (a Sankey
  // needs no cycles, and visits go back and forth between zones, so "to" is a node of its own).
  const flows = j.transitions.filter((t) => t.n > 0).slice(0, 60);
  const ends = [...new Set(flows.flatMap((t) => [t.from_state, `→ ${t.to_state}`]))];
  chart(content, "Flow between zones", "visits moving from the zone on the left to the zone on the right; band width ∝ visits (the 60 largest flows)",
    { tooltip: { trigger: "item" }, grid: undefined,
      series: [{ type: "sankey", left: 24, right: 120, top: 16, bottom: 16, nodeGap: 6, emphasis: { focus: "adjacency" },
        data: ends.map((name) => ({ name })), links: flows.map((t) => ({ source: t.from_state, target: `→ ${t.to_state}`, value: t.n })),
        lineStyle: { color: "gradient", opacity: 0.45 } }] }, 520);
  content.append(table("Top transitions", ["from", "to", "visits"], j.transitions.slice(0, 15).map((t) => [t.from_state, t.to_state, t.n])));
}

async function queuePage() {
  const q = await api("queue");
  const x = { type: "category", name: "local time", data: q.buckets.map((b) => label(b, q.bucket)) };
  content.append(el("div", { class: "tiles" }, ...q.queues.map((z) =>
    tile(`over-target-${z.zone_id}`, `Wait over ${num(q.target_wait_s)} s (${z.zone_id})`, z.share_over_target === null ? "–" : fmt.format(100 * z.share_over_target), "% of samples", "share of queue samples whose estimated wait exceeded the target"))));
  chart(content, "Queue length", `most people queueing in each ${q.bucket} bucket`,
    { legend: {}, xAxis: x, yAxis: { type: "value", name: "people" }, series: q.queues.map((z) => ({ name: z.zone_id, type: "line", data: z.max_length })) });
  chart(content, "Estimated wait", `seconds, mean of the samples in each ${q.bucket} bucket; target ${q.target_wait_s} s`,
    { legend: {}, xAxis: x, yAxis: { type: "value", name: "seconds" },
      series: q.queues.map((z) => ({ name: z.zone_id, type: "line", data: z.mean_wait_s, markLine: { data: [{ yAxis: q.target_wait_s, name: "target" }] } })) });
  chart(content, "Customers per staff by hour", `customer visits per member of staff present; target at most ${q.customers_per_staff_target}`,
    { xAxis: { type: "category", name: "hour", data: q.hours.map((h) => hhmm(h.hour)) }, yAxis: { type: "value", name: "customers / staff" },
      series: [{ type: "bar", data: q.hours.map((h) => ({ value: h.customers_per_staff, itemStyle: { color: h.over_target ? "#c0392b" : "#2e86c1" } })),
        markLine: { data: [{ yAxis: q.customers_per_staff_target, name: "target" }] } }] });
  content.append(table("Staffing by hour", ["hour", "customers", "staff present (mean)", "customers per staff", "over target"],
    q.hours.map((h) => [h.hour.slice(0, 16).replace("T", " "), h.customers, num(h.staff), num(h.customers_per_staff), h.over_target ? "yes" : "no"])));
}

async function alertsPage() {
  const a = await api("alerts");
  const rules = [...new Set(a.alerts.map((r) => r.rule_id))];
  const tz = body.dataset.timeZone;
  const local = (ms) => new Date(ms).toLocaleString("en-GB", { timeZone: tz, hour12: false });
  chart(content, "Alert timeline", `each alert from raised to cleared, local time (${tz})`,
    { tooltip: { trigger: "item" }, xAxis: { type: "time", name: "time" }, yAxis: { type: "category", name: "rule", data: rules },
      series: [{ type: "scatter", symbolSize: 10, data: a.alerts.map((r) => [r.raised_ms, r.rule_id]) },
        ...a.alerts.filter((r) => r.cleared_ms).map((r) => ({ type: "line", data: [[r.raised_ms, r.rule_id], [r.cleared_ms, r.rule_id]], symbol: "none", lineStyle: { width: 4 } }))] });
  content.append(table(`Alerts (${a.alerts.length})`, ["rule", "zone", "metric", "severity", "raised", "cleared", "threshold", "peak", "duration (s)"],
    a.alerts.map((r) => [r.rule_id, r.zone_id || "store", r.metric, r.severity, local(r.raised_ms), r.cleared_ms ? local(r.cleared_ms) : "open", num(r.threshold), num(r.peak), num(r.duration_s)])));
}

const MEASURE_LABELS = {
  visits: "visits", group_visits: "group visits", entries: "entries", exits: "exits", stays: "zone stays",
  dwell_median_s: "median dwell (s)", dwell_p90_s: "p90 dwell (s)", transitions: "transitions", funnel: "funnel",
};
const COUNTED = ["visits", "entries", "exits", "stays"];

async function abPage() {
  const extra = {};
  for (const key of ["a_from", "a_to"]) if (params.get(key)) extra[key] = params.get(key);
  const c = await api("compare", extra);
  const name = (m) => `${MEASURE_LABELS[m.measure] || m.measure}${m.subject ? ` · ${m.subject}` : ""}`;
  const interval = (m) => (m.lo === null ? "–" : `[${m.lo > 0 ? "+" : ""}${fmt.format(m.lo)}, ${m.hi > 0 ? "+" : ""}${fmt.format(m.hi)}]`);
  const unit = c.unit_s === 86400 ? "days" : "hours";
  const level = `${Math.round(100 * c.interval.level)} %`;
  const visits = c.measures.find((m) => m.measure === "visits" && !m.subject) || { a: 0, b: 0, delta: 0, lo: null };
  content.append(
    el("p", { class: "as-of", text: `A: ${c.a[0].replace("T", " ")} to ${c.a[1].replace("T", " ")} (${c.units_a} ${unit}); B: ${c.b[0].replace("T", " ")} to ${c.b[1].replace("T", " ")} (${c.units_b} ${unit}), ${c.time_zone}` + (c.counts_per_unit ? `; counts per ${unit.slice(0, -1)}` : "") }),
    el("div", { class: "tiles" },
      tile("ab-visits-b", "Visits in B", num(visits.b), "visits", `A: ${num(visits.a)}`),
      tile("ab-visits-delta", "B − A", `${visits.delta > 0 ? "+" : ""}${num(visits.delta)}`, "visits", `${level} interval ${interval(visits)} (bootstrap over ${unit})`)));
  const counted = c.measures.filter((m) => COUNTED.includes(m.measure));
  const labels = counted.map(name);
  chart(content, "A and B", `counts in each period${c.counts_per_unit ? ` (per ${unit.slice(0, -1)})` : ""}`,
    { legend: {}, grid: { left: 64, right: 24, top: 40, bottom: 110 },
      xAxis: { type: "category", name: "measure", data: labels, axisLabel: { rotate: 40 } }, yAxis: { type: "value", name: "count" },
      series: [{ name: "A", type: "bar", data: counted.map((m) => m.a) }, { name: "B", type: "bar", data: counted.map((m) => m.b) }] }, 380);
  chart(content, "B − A with its interval", `difference of each count, and the ${level} percentile bootstrap interval over ${unit} (whiskers)`,
    { legend: {}, grid: { left: 64, right: 24, top: 40, bottom: 110 },
      xAxis: { type: "category", name: "measure", data: labels, axisLabel: { rotate: 40 } }, yAxis: { type: "value", name: "B − A" },
      series: [{ name: "B − A", type: "bar", data: counted.map((m) => m.delta) },
        { name: `${level} interval, low`, type: "scatter", symbol: "rect", symbolSize: [14, 2], data: counted.map((m) => m.lo) },
        { name: `${level} interval, high`, type: "scatter", symbol: "rect", symbolSize: [14, 2], data: counted.map((m) => m.hi) }] }, 380);
  content.append(table(`Every measure: A, B, B − A and its ${level} interval`, ["measure", "A", "B", "B − A", "relative", `${level} interval of B − A`],
    c.measures.map((m) => [name(m), num(m.a), num(m.b), num(m.delta), m.relative === null ? "–" : `${fmt.format(100 * m.relative)} %`, interval(m)])));
  await layoutVersions(name);
}

// Two layout versions: the live layout against a what-if's candidate (`footfall whatif`) over the what-if's
// window. The same people under both, so the differences carry no sampling interval.
async function layoutVersions(name, id) {
  const w = await api("whatif", id ? { id } : {});
  const section = el("section", { id: "ab-layouts", "aria-labelledby": "ab-layouts-title" },
    el("h2", { id: "ab-layouts-title", text: "Two layout versions: live against a what-if" }));
  const shown = document.getElementById("ab-layouts");
  if (shown) shown.replaceWith(section);
  else content.append(section);
  if (!w.chosen) {
    section.append(el("p", { class: "note", text: "No what-if for this store yet: footfall whatif --layout candidate.json --from T --to T builds one." }));
    return;
  }
  const pick = el("select", { id: "ab-whatif", "aria-label": "what-if" },
    ...w.whatifs.map((v) => el("option", { value: v.whatif_id, text: `${v.whatif_id}: layout v${v.candidate_layout_version}, ${v.from.replace("T", " ")} to ${v.to.replace("T", " ")}` })));
  pick.value = w.chosen.whatif_id;
  pick.addEventListener("change", () => layoutVersions(name, pick.value));
  const ch = w.chosen;
  const visits = ch.measures.find((m) => m.measure === "visits" && !m.subject) || { live: 0, whatif: 0 };
  section.append(el("label", { for: "ab-whatif", text: "What-if " }), pick,
    el("p", { class: "as-of", text: `live layout v${ch.live_layout_versions.join(", v")} against candidate v${ch.candidate_layout_version}, ${ch.from.replace("T", " ")} to ${ch.to.replace("T", " ")} (${w.time_zone})` }),
    el("div", { class: "tiles" },
      tile("ab-whatif-visits", "Visits under the candidate", num(visits.whatif), "visits", `live: ${num(visits.live)}`)),
    table(`Every measure: live, what-if and the difference`, ["measure", "live", "what-if", "what-if − live", "relative"],
      ch.measures.map((m) => [name(m), num(m.live), num(m.whatif), num(m.delta), m.relative === null ? "–" : `${fmt.format(100 * m.relative)} %`])));
}

const PAGES = { overview, floor, trends, zones: zonesPage, journeys, queue: queuePage, alerts: alertsPage, ab: abPage };

// Keyboard: 1-9 open the pages in the navigation's order (aria-keyshortcuts says so on each link).
document.addEventListener("keydown", (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey || ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  const link = document.querySelector(`nav a[data-key="${e.key}"]`);
  if (link) { e.preventDefault(); link.click(); }
});

if (PAGES[page]) {
  PAGES[page]().then(() => body.setAttribute("data-ready", "true")).catch((err) => {
    content.append(el("p", { class: "error", role: "alert", text: String(err.message || err) }));
    body.setAttribute("data-ready", "error");
    console.error(err);
  });
}
