// "Cameras": per camera its live annotated view, its state (connected, fps in/out, last error), the
// latest detections (/v1/cameras/{id}/latest) and recent events with their saved frames
// (/v1/cameras/{id}/events). An <img> cannot send the key header and the key never goes in a URL, so
// the stream and the event frames load with a short-lived token that opens only that camera's images
// (POST /v1/cameras/{id}/token). Refreshed every 2 s while the page is shown.
import { ApiError, api } from "./api.js";

const $ = (id) => document.getElementById(id);
const EVERY_MS = 2000, EVENTS = 6, TOKEN_MS = 30_000;
const tokens = new Map(); // camera id -> {token, at}
let timer = null;

const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props); // text goes in as textContent, never HTML
  e.append(...children);
  return e;
};

export async function showCameras() {
  clearTimeout(timer);
  let cameras;
  try { ({ data: cameras } = await api("/v1/cameras")); } catch (err) { $("cameras").textContent = err.message; return; }
  if (!cameras.length) { $("cameras").textContent = "No cameras are configured (cameras: in config.yaml)."; return; }
  $("cameras").replaceChildren(...cameras.map(card));
  for (const img of document.querySelectorAll("#cameras img.live")) watch(img); // once in the page
  refresh(cameras);
}

export function stopCameras() {
  clearTimeout(timer); timer = null;
  for (const img of document.querySelectorAll("#cameras img.live")) img.removeAttribute("src");
}

function card(cam) {
  const img = el("img", { className: "live", alt: `camera ${cam.id}` });
  img.dataset.camera = cam.id;
  img.addEventListener("error", () => setTimeout(() => watch(img), 2000)); // the stream ended: a new token
  const figure = el("figure", { className: "camera" }, img,
    el("figcaption", {}, el("strong", { textContent: cam.id }), ` · ${cam.model} · ${cam.source}`),
    el("dl", { className: "state" }),
    el("h3", { textContent: "Latest detections" }), el("p", { className: "latest-time hint" }),
    el("table", { className: "latest" }, el("tbody")),
    el("h3", { textContent: "Recent events" }), el("ul", { className: "events" }));
  figure.dataset.camera = cam.id;
  return figure;
}

async function token(camera) {
  const held = tokens.get(camera);
  if (held && Date.now() - held.at < TOKEN_MS) return held.token;
  const { data } = await api(`/v1/cameras/${encodeURIComponent(camera)}/token`, { method: "POST" });
  tokens.set(camera, { token: data.token, at: Date.now() });
  return data.token;
}

// Point `img` at the camera's MJPEG stream with a fresh token (it is checked when the stream opens).
async function watch(img) {
  if ($("cameras-tab").hidden || !img.isConnected) { img.removeAttribute("src"); return; }
  try {
    tokens.delete(img.dataset.camera);
    img.src = `/v1/cameras/${encodeURIComponent(img.dataset.camera)}/stream.mjpg?token=${await token(img.dataset.camera)}`;
  } catch (err) {
    img.title = err.message;
    setTimeout(() => watch(img), 5000);
  }
}

async function refresh(cameras) {
  if ($("cameras-tab").hidden) return;
  try {
    if (!cameras) ({ data: cameras } = await api("/v1/cameras"));
    await Promise.all(cameras.map(update));
  } catch (err) {
    for (const dl of document.querySelectorAll("#cameras dl.state")) dl.title = err.message;
  }
  timer = setTimeout(refresh, EVERY_MS);
}

async function update(cam) {
  const figure = [...document.querySelectorAll("#cameras figure")].find((f) => f.dataset.camera === cam.id);
  if (!figure) return;
  const error = cam.inference_error || cam.last_error;
  const dl = figure.querySelector("dl.state");
  dl.replaceChildren(...[["Connected", cam.connected ? "yes" : "no"], ["fps in", cam.fps_in], ["fps out", cam.fps_out],
    ["Frames", `${cam.frames_in} read, ${cam.frames_inferred} inferred, ${cam.frames_dropped} dropped`],
    ["Last error", error || "none"]].flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: String(v) })]));
  dl.dataset.connected = String(cam.connected);
  figure.classList.toggle("down", !cam.connected);
  const id = encodeURIComponent(cam.id);
  await Promise.all([latest(figure, id), events(figure, cam.id)]);
}

async function latest(figure, id) {
  const table = figure.querySelector("table.latest"), when = figure.querySelector(".latest-time");
  try {
    const answer = await api(`/v1/cameras/${id}/latest?decimals=1`);
    when.textContent = `${answer.data.length} object(s) at ${new Date(answer.frame_time * 1000).toLocaleTimeString()}` +
      ` (${answer.model}, inference ${answer.speed.inference.toFixed(1)} ms)`;
    table.dataset.frameTime = String(answer.frame_time);
    table.tBodies[0].replaceChildren(...answer.data.map((d) => el("tr", {},
      el("td", { textContent: d.name }), el("td", { textContent: d.confidence.toFixed(2) }),
      el("td", { textContent: d.box ? `${Math.round(d.box.x1)},${Math.round(d.box.y1)} ${Math.round(d.box.x2)},${Math.round(d.box.y2)}` : "" }))));
  } catch (err) {
    when.textContent = err instanceof ApiError && err.status === 503 ? err.message.replace(/^503: /, "") : err.message;
  }
}

async function events(figure, camera) {
  const list = figure.querySelector("ul.events");
  const { data } = await api(`/v1/cameras/${encodeURIComponent(camera)}/events?limit=${EVENTS}`);
  if (!data.length) { list.replaceChildren(el("li", { className: "hint", textContent: "No events yet." })); return; }
  const shown = new Map([...list.children].map((li) => [li.dataset.event, li]));
  const items = [];
  for (const ev of data) {
    let li = shown.get(ev.id); // kept as is: its frame is already loaded
    if (!li) {
      li = el("li", {}, el("span", { textContent: `${new Date(ev.time * 1000).toLocaleTimeString()} · ${ev.classes.join(", ")}` }));
      li.dataset.event = ev.id;
      if (ev.image) {
        const img = el("img", { alt: `event ${ev.id}`, loading: "lazy" });
        img.src = `${ev.image}?token=${await token(camera)}`;
        li.prepend(img);
      }
    }
    items.push(li);
  }
  list.replaceChildren(...items);
}
