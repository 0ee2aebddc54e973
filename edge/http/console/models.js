// "Models": what the device serves, its conversion report when the bundle has one, upload
// (PUT /v1/models/{id}) and delete, with an admin key.
import { api } from "./api.js";
import { renderReport } from "./report.js";

const $ = (id) => document.getElementById(id);
const ARCHIVE = { gz: "application/gzip", tgz: "application/gzip", zip: "application/zip", tar: "application/x-tar" };

// state: "busy", "done" or "error" (also what the browser tests wait for)
function status(text, error = false, state = error ? "error" : "done") {
  const p = $("models-status");
  p.textContent = text;
  p.classList.toggle("error", error);
  p.dataset.state = state;
}

const adminKey = () => $("admin-key").value || undefined; // undefined: the key signed in with

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text; // names and classes are shown as text, never parsed as HTML
  return td;
}

export function renderModels(models, onChange) {
  const rows = models.map((m) => {
    const tr = document.createElement("tr");
    const names = Object.values(m.classes || {});
    const shown = names.length > 6 ? `${names.slice(0, 6).join(", ")}… (${names.length})` : names.join(", ");
    tr.append(cell(m.id), cell(m.task), cell(shown), cell((m.imgsz || []).join("×")), cell(m.precision),
      cell(m.device));
    const del = document.createElement("button");
    del.type = "button"; del.textContent = "Delete";
    del.addEventListener("click", async () => {
      if (!confirm(`Stop serving ${m.id} and delete its files?`)) return;
      try {
        await api(`/v1/models/${encodeURIComponent(m.id)}`, { method: "DELETE", apiKey: adminKey() });
        await onChange();
        status(`${m.id} deleted`);
      } catch (err) { status(err.message, true); }
    });
    const td = document.createElement("td");
    td.append(del);
    tr.append(td);
    tr.dataset.model = m.id;
    return tr;
  });
  $("models-table").tBodies[0].replaceChildren(...rows);
  $("report").hidden = true;
  rows.forEach((tr, i) => offerReport(tr, models[i].id));
}

// A "Report" button on the rows whose bundle has a report.json (GET /v1/models/{id} carries it).
async function offerReport(tr, id) {
  let report;
  try { ({ report } = (await api(`/v1/models/${encodeURIComponent(id)}`)).data); } catch { return; }
  if (!report || !tr.isConnected) return;
  const button = document.createElement("button");
  button.type = "button"; button.textContent = "Report"; button.className = "report";
  button.addEventListener("click", () => renderReport(id, report));
  tr.lastElementChild.prepend(button);
}

export function setupModels(onChange) {
  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = $("upload-id").value.trim(), file = $("upload-file").files[0];
    if (!file) return;
    const type = ARCHIVE[file.name.split(".").pop().toLowerCase()] || "application/octet-stream";
    status(`Uploading ${file.name} (${(file.size / 2 ** 20).toFixed(1)} MB); the device compiles and warms it…`, false, "busy");
    try {
      const { data } = await api(`/v1/models/${encodeURIComponent(id)}`,
        { method: "PUT", body: file, headers: { "content-type": type }, apiKey: adminKey() });
      await onChange();
      status(`${id}: ${data.action}`);
    } catch (err) { status(err.message, true); }
  });
}
