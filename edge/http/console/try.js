// "Try it": a model, an image (picked, dropped, pasted or a URL the device fetches), the sliders;
// the answer drawn over the image, the raw JSON and the same request as a curl command.
import { api, request, serverTiming } from "./api.js";
import { drawAnswer } from "./draw.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["size", "confidence", "iou"];
let picked = null; // the File to send, or null when the URL field is used
let models = []; // GET /v1/models, for each model's size

export function setupTry() {
  for (const name of FIELDS) {
    const input = $(name);
    input.addEventListener("input", () => { $(`${name}-out`).value = input.value; });
  }
  $("file").addEventListener("change", () => choose($("file").files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    choose(e.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (e) => {
    const file = [...(e.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) choose(file);
  });
  $("predict-form").addEventListener("submit", (e) => { e.preventDefault(); predict(); });
  $("model").addEventListener("change", fitSize);
  $("webcam").addEventListener("click", startWebcam);
  $("webcam-capture").addEventListener("click", capture);
  $("copy-curl").addEventListener("click", () => navigator.clipboard?.writeText($("curl").textContent));
}

// The device's camera (getUserMedia): browsers allow it only on https:// or localhost.
async function startWebcam() {
  if (!navigator.mediaDevices?.getUserMedia) {
    status("The browser offers no webcam here: it needs https:// (server.tls) or http://localhost.", true);
    return;
  }
  try {
    const video = $("webcam-view");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.hidden = false;
    $("webcam-capture").hidden = false;
  } catch (err) {
    status(`The webcam could not be opened: ${err.message}`, true);
  }
}

// The current webcam frame as a JPEG file, then the webcam is closed.
async function capture() {
  const video = $("webcam-view"), canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  video.srcObject.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
  video.hidden = true;
  $("webcam-capture").hidden = true;
  choose(new File([blob], "webcam.jpg", { type: "image/jpeg" }));
}

function choose(file) {
  if (!file) return;
  picked = file;
  $("url").value = "";
  $("file-name").textContent = file.name;
  status("");
}

// state: "busy", "done" or "error" (also what the browser tests wait for)
function status(text, error = false, state = error ? "error" : "") {
  const p = $("predict-status");
  p.textContent = text;
  p.classList.toggle("error", error);
  p.dataset.state = state;
}

export async function loadModels() {
  const { data } = await api("/v1/models");
  models = data;
  const select = $("model"), current = select.value;
  select.replaceChildren(...data.map((m) => new Option(`${m.id} (${m.task})`, m.id))); // text, never HTML
  // the choice is kept across a refresh (after an upload); else the first model
  select.value = data.some((m) => m.id === current) ? current : (data[0]?.id ?? "");
  if (select.value !== current) fitSize();
  return data;
}

// The size slider follows the chosen model: its own input size, and at most what it can run
// (a static export runs at its size or smaller; a dynamic one up to 1280).
function fitSize() {
  const m = models.find((x) => x.id === $("model").value);
  if (!m || !m.imgsz) return;
  const own = Math.max(...m.imgsz), size = $("size");
  size.max = String(m.dynamic ? Math.max(1280, own) : own);
  size.value = String(own);
  $("size-out").value = size.value;
}

function fields() {
  const out = FIELDS.map((name) => [name, $(name).value]);
  const classes = $("classes").value.trim();
  if (classes) out.push(["classes", classes]);
  return out;
}

// The curl command of this request; the key is left as $YOLO_EDGE_KEY, never printed.
function curl(model, fileName, url) {
  const parts = [`curl -X POST "${location.origin}/v1/predict/${encodeURIComponent(model)}"`,
    `-H "x-api-key: $YOLO_EDGE_KEY"`, url ? `-F "url=${url}"` : `-F "image=@${fileName}"`];
  for (const [name, value] of fields()) parts.push(`-F "${name}=${value}"`);
  return parts.join(" \\\n  ");
}

async function loadImage(file) {
  const image = new Image();
  image.src = URL.createObjectURL(file);
  await image.decode();
  return image;
}

async function predict() {
  const model = $("model").value, url = $("url").value.trim();
  if (!picked && !url) { status("Choose an image first (pick, drop or paste one, or give a URL).", true); return; }
  const form = new FormData();
  if (url) form.append("url", url); else form.append("image", picked, picked.name);
  for (const [name, value] of fields()) form.append(name, value);
  $("curl").textContent = curl(model, url ? "" : picked.name, url);
  status("Predicting…", false, "busy");
  const started = performance.now();
  try {
    const { data: answer, headers } = await request(`/v1/predict/${encodeURIComponent(model)}`,
      { method: "POST", body: form });
    const took = Math.round(performance.now() - started);
    $("timings").textContent = [...serverTiming(headers.get("Server-Timing")).map(([n, ms]) => `${n} ${ms.toFixed(1)} ms`),
      `round trip ${took} ms`].join(" · ");
    $("json").textContent = JSON.stringify(answer, null, 2);
    const image = url ? null : await loadImage(picked);
    await drawAnswer($("canvas"), image, answer, url ? extent(answer.data) : undefined);
    status(`${summary(answer)} in ${took} ms` + (url ? ". The device fetched the image; this page shows "
      + "images from this device only (its Content-Security-Policy), so the results are drawn on a blank frame." : ""),
    false, "done");
  } catch (err) {
    status(err.message, true);
  }
}

function summary(answer) {
  const d = answer.depth;
  if (d) return `depth map ${d.shape[1]}×${d.shape[0]}, ${d.min.toFixed(2)} to ${d.max.toFixed(2)} (near: dark, far: yellow)`;
  if (answer.semantic_mask) return `class map, ${answer.data.length} class(es) present`;
  return `${answer.data.length} result(s)`;
}

// For a URL the browser does not load (CSP: images only from this device; widening img-src would let any
// page the user pastes make the browser call other hosts): a blank canvas that holds the boxes.
function extent(items) {
  let w = 640, h = 480;
  for (const { box } of items) {
    if (!box) continue;
    w = Math.max(w, ...Object.entries(box).filter(([k]) => k[0] === "x").map(([, v]) => v));
    h = Math.max(h, ...Object.entries(box).filter(([k]) => k[0] === "y").map(([, v]) => v));
  }
  return [Math.ceil(w), Math.ceil(h)];
}
