// "Service": readiness (/readyz with the key: model ids and camera state) and each camera's latest
// snapshot, fetched with the key header (an <img src> cannot send it) and refreshed every 2 s.
import { api, blobUrl, key } from "./api.js";

const $ = (id) => document.getElementById(id);
let timer = null;

export async function showService() {
  const response = await fetch("/readyz", { headers: { "x-api-key": key() } });
  $("ready").textContent = JSON.stringify(await response.json(), null, 2);
  let cameras = [];
  try { ({ data: cameras } = await api("/v1/cameras")); } catch (err) { $("cameras").textContent = err.message; return; }
  if (!cameras.length) { $("cameras").textContent = "No cameras are configured (cameras: in config.yaml)."; return; }
  const cards = cameras.map((cam) => {
    const card = document.createElement("figure");
    card.className = "camera";
    const img = document.createElement("img");
    img.alt = `camera ${cam.id}`;
    img.dataset.camera = cam.id;
    const caption = document.createElement("figcaption");
    caption.textContent = Object.entries(cam).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
    card.append(img, caption);
    return card;
  });
  $("cameras").replaceChildren(...cards);
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  const images = [...document.querySelectorAll("#cameras img")];
  if (!images.length || $("service").hidden) return;
  await Promise.all(images.map(async (img) => {
    try {
      const url = await blobUrl(`/v1/cameras/${encodeURIComponent(img.dataset.camera)}/snapshot.jpg?annotate=true`);
      if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
      img.src = url;
    } catch { /* not ready yet: the next round retries */ }
  }));
  timer = setTimeout(refresh, 2000);
}
