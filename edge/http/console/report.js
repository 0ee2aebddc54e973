// A bundle's conversion report (report.json written by yolo-edge-convert, served in GET /v1/models/{id}):
// a table (what was converted, accuracy against FP32, speed side by side) and two bar charts of it.
import { barChart } from "./chart.js";

const $ = (id) => document.getElementById(id);
const pct = (v) => (v === undefined || v === null ? "—" : (100 * v).toFixed(2));
const num = (v, d = 2) => (v === undefined || v === null ? "—" : Number(v).toFixed(d));

function table(rows) {
  const t = document.createElement("table");
  t.className = "report-table";
  for (const cells of rows) {
    const tr = t.insertRow();
    cells.forEach((text, i) => {
      const td = document.createElement(i === 0 || cells.length === 1 ? "th" : "td");
      td.textContent = String(text); // from a file inside an uploaded bundle: text, never HTML
      tr.append(td);
    });
  }
  return t;
}

export function renderReport(modelId, report) {
  const box = $("report");
  box.hidden = false;
  $("report-title").textContent = `Conversion report of ${modelId}`;
  const b = report.bundle || {}, src = report.source || {}, env = report.environment || {};
  const label = String(b.precision || "result").toUpperCase();
  const rows = [
    ["Source", `${src.path} (${src.task}, ${src.classes} classes)`],
    ["Bundle", `${label}, ${(b.imgsz || []).join("×")}, ${b.dynamic ? "dynamic" : "static"} shape`],
    ["Converted", `${report.created} on ${env.device}; OpenVINO ${env.openvino}, NNCF ${env.nncf}, Ultralytics ${env.ultralytics}`],
  ];
  const acc = report.accuracy, sp = report.speed;
  const parts = [table(rows)];
  if (acc) {
    const metrics = Object.keys(acc.fp32);
    parts.push(table([["Accuracy", "FP32", label, "drop (points)"],
      ...metrics.map((m) => [m, pct(acc.fp32[m]), pct(acc.result[m]), num(100 * (acc.fp32[m] - acc.result[m]))]),
      [`Gate (${acc.mode}, ${acc.images} held-out images)`, acc.passed ? "passed" : "FAILED",
        `drop ${num(acc.drop_points)}`, `limit ${num(acc.max_drop)}`]]));
  } else {
    parts.push(table([[report.accuracy_note || "Accuracy was not measured."]]));
  }
  if (sp) {
    const speed = [["Speed", "latency ms (median)", "p90 ms", "img/s"]];
    for (const [k, name] of [["fp32", "FP32"], ["result", label]]) {
      if (sp[k]) speed.push([name, num(sp[k].latency_ms), num(sp[k].latency_p90_ms), num(sp[k].throughput_fps)]);
    }
    parts.push(table(speed));
  }
  for (const w of report.warnings || []) {
    const p = document.createElement("p");
    p.className = "hint"; p.textContent = `⚠ ${w}`;
    parts.push(p);
  }
  $("report-tables").replaceChildren(...parts);
  const accCanvas = $("report-accuracy"), speedCanvas = $("report-speed");
  accCanvas.hidden = !acc; speedCanvas.hidden = !sp;
  if (acc) {
    barChart(accCanvas, Object.keys(acc.fp32).map((m) => ({ label: m, values: [100 * acc.fp32[m], 100 * acc.result[m]] })),
      ["FP32", label], "%");
  }
  if (sp) {
    const series = sp.result && label !== "FP32" ? ["FP32", label] : ["FP32"];
    barChart(speedCanvas, [{ label: "throughput", values: [sp.fp32.throughput_fps, ...(series.length > 1 ? [sp.result.throughput_fps] : [])] }],
      series, "img/s");
  }
}
