// "Service": readiness (/readyz with the key: model ids and camera state) and each camera's live
// annotated view. An <img> cannot send the key header and the key never goes in a URL, so each view
// asks POST /v1/cameras/{id}/token for a short-lived token that opens only that camera's stream.
import { api, key } from "./api.js";

const $ = (id) => document.getElementById(id);

export async function showService() {
  const response = await fetch("/readyz", { headers: { "x-api-key": key() } });
  $("ready").textContent = JSON.stringify(await response.json(), null, 2);
  let cameras = [];
  try { ({ data: cameras } = await api("/v1/cameras")); } catch (err) { $("cameras").textContent = err.message; return; }
  if (!cameras.length) { $("cameras").textContent = "No cameras are configured (cameras: in config.yaml)."; return; }
  $("cameras").replaceChildren(...cameras.map(card));
  for (const img of document.querySelectorAll("#cameras img")) watch(img); // once in the page
}

function card(cam) {
  const figure = document.createElement("figure");
  figure.className = "camera";
  const img = document.createElement("img");
  img.alt = `camera ${cam.id}`;
  img.dataset.camera = cam.id;
  const caption = document.createElement("figcaption");
  caption.textContent = Object.entries(cam)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · "); // text, never HTML
  img.addEventListener("error", () => setTimeout(() => watch(img), 2000)); // the stream ended: a new token
  figure.append(img, caption);
  return figure;
}

// Point `img` at the camera's MJPEG stream with a fresh token (it is checked when the stream opens).
export async function watch(img) {
  if ($("service").hidden || !img.isConnected) { img.removeAttribute("src"); return; }
  try {
    const { data } = await api(`/v1/cameras/${encodeURIComponent(img.dataset.camera)}/token`, { method: "POST" });
    img.src = data.stream;
  } catch (err) {
    img.title = err.message;
    setTimeout(() => watch(img), 5000);
  }
}

// Leaving the page closes the streams (each costs the device a JPEG encode per frame).
export function stopStreams() {
  for (const img of document.querySelectorAll("#cameras img")) img.removeAttribute("src");
}
