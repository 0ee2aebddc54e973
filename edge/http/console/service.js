// "Service": health and readiness, versions, device and uptime (/readyz with the key), and request
// rates and time per stage read from /metrics (Prometheus text, parsed here), with two small charts.
// Refreshed every 2 s while the page is shown.
import { api, key } from "./api.js";
import { barChart, lineChart } from "./chart.js";
import { parseMetrics, quantiles, sumBy } from "./prometheus.js";

const $ = (id) => document.getElementById(id);
const EVERY_MS = 2000, KEEP = 90; // 3 minutes of rate points
const STAGES = ["decode", "preprocess", "inference", "postprocess"];
const OWN = new Set(["/metrics", "/readyz", "/healthz", "/", "/console/{name}"]); // this page's own polling
let history = [], timer = null;

export function showService() {
  clearTimeout(timer);
  refresh();
}

export function stopService() { clearTimeout(timer); timer = null; }

async function refresh() {
  if ($("service").hidden) return;
  try {
    await Promise.all([readiness(), metrics()]);
  } catch (err) {
    $("health").textContent = err.message;
    $("health").dataset.state = "error";
  }
  timer = setTimeout(refresh, EVERY_MS);
}

function row(cells, tag = "td") {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement(tag);
    td.textContent = text; // names from the device are shown as text, never parsed as HTML
    tr.append(td);
  }
  return tr;
}

export function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24, m = Math.floor(seconds / 60) % 60;
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : m ? `${m} min ${Math.floor(seconds % 60)} s` : `${Math.floor(seconds)} s`;
}

async function readiness() {
  const [alive, ready] = await Promise.all([
    fetch("/healthz").then((r) => r.ok, () => false),
    fetch("/readyz", { headers: { "x-api-key": key() } }).then((r) => r.json()),
  ]);
  $("ready").textContent = JSON.stringify(ready, null, 2);
  $("health").textContent = `${alive ? "Alive" : "Not answering /healthz"} · ${ready.ready ? "ready" : "not ready (starting, reloading or stopping)"}`;
  $("health").dataset.state = alive && ready.ready ? "ready" : "error";
  const s = ready.service || {};
  const cameras = Object.entries(ready.cameras || {});
  $("about").tBodies[0].replaceChildren(...[
    ["yolo-edge", s.version], ["OpenVINO", s.openvino], ["Device", s.device_name ? `${s.device} (${s.device_name})` : s.device],
    ["Uptime", s.uptime_s === undefined ? "" : duration(s.uptime_s)],
    ["Models", (ready.models || []).join(", ")],
    ["Cameras", cameras.map(([id, c]) => `${id}: ${c.connected ? "connected" : "not connected"}`).join(", ") || "none"],
  ].map(([name, value]) => {
    const tr = row([name, value ?? "—"]);
    tr.dataset.about = name;
    return tr;
  }));
}

async function metrics() {
  const response = await fetch("/metrics", { headers: { "x-api-key": key() } });
  const samples = parseMetrics(await response.text());
  const now = performance.now() / 1000;
  const requests = sumBy(samples, "yolo_edge_requests_total", ["endpoint"]);
  const total = [...requests].filter(([e]) => !OWN.has(e)).reduce((a, [, v]) => a + v, 0);
  history.push([now, total]);
  if (history.length > KEEP) history = history.slice(-KEEP);
  const rates = history.slice(1).map(([t, v], i) => [t, Math.max(0, v - history[i][1]) / (t - history[i][0])]);
  lineChart($("rate-chart"), rates, "requests / s");
  $("rate-chart").dataset.total = String(total);

  const count = sumBy(samples, "yolo_edge_stage_duration_seconds_count", ["model", "stage"]);
  const sum = sumBy(samples, "yolo_edge_stage_duration_seconds_sum", ["model", "stage"]);
  const p90 = quantiles(samples, "yolo_edge_stage_duration_seconds", ["model", "stage"], 0.9);
  const models = [...new Set([...count].filter(([, n]) => n > 0).map(([k]) => k.split("|")[0]))].sort();
  const mean = (k) => (count.get(k) ? (1000 * sum.get(k)) / count.get(k) : NaN);
  barChart($("stage-chart"), STAGES.map((stage) => ({ label: stage, values: models.map((m) => mean(`${m}|${stage}`)) })),
    models, "ms (mean)");
  $("stages").tBodies[0].replaceChildren(...models.flatMap((m) => STAGES.map((stage) => {
    const k = `${m}|${stage}`;
    const tr = row([m, stage, String(count.get(k) || 0), mean(k).toFixed(2), ((p90.get(k) || 0) * 1000).toFixed(1)]);
    Object.assign(tr.dataset, { model: m, stage, count: String(count.get(k) || 0) });
    return tr;
  })));

  const answers = sumBy(samples, "yolo_edge_requests_total", ["endpoint", "status"]);
  const took = sumBy(samples, "yolo_edge_request_duration_seconds_sum", ["endpoint"]);
  const routes = [...requests].filter(([e, n]) => n > 0 && !OWN.has(e)).sort((a, b) => b[1] - a[1]);
  $("routes").tBodies[0].replaceChildren(...routes.map(([endpoint, n]) => {
    const failed = [...answers].filter(([k]) => k.startsWith(`${endpoint}|`) && Number(k.split("|")[1]) >= 400)
      .reduce((a, [, v]) => a + v, 0);
    const tr = row([endpoint, String(n), String(failed), ((1000 * (took.get(endpoint) || 0)) / n).toFixed(1)]);
    Object.assign(tr.dataset, { endpoint, count: String(n) });
    return tr;
  }));
}
