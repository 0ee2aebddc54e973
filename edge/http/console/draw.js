// Drawing a HUB answer over its image on a canvas, for every task: boxes and labels (detect),
// polygons (segment), keypoints with the COCO skeleton (pose), four corners (obb), top-k bars
// (classify; semantic models: each class's pixel share, over the class map tinted per class),
// the depth map in false colour (depth). Coordinates are original-image pixels (the console never asks for normalize).
// Labels go through fillText, never HTML, so a hostile class name stays text.

const COLORS = ["#ff3838", "#ff9d97", "#ff701f", "#ffb21d", "#cfd231", "#48f90a", "#92cc17", "#3ddb86",
  "#1a9334", "#00d4bb", "#2c99a8", "#00c2ff", "#344593", "#6473ff", "#0018ec", "#8438ff", "#520085",
  "#cb38ff", "#ff95c8", "#ff37c7"];
// Ultralytics' COCO pose skeleton, 1-based keypoint indices.
const SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
  [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]];

export const color = (cls) => COLORS[((cls % COLORS.length) + COLORS.length) % COLORS.length];

function corners(box) {
  if ("x3" in box) return [[box.x1, box.y1], [box.x2, box.y2], [box.x3, box.y3], [box.x4, box.y4]];
  return [[box.x1, box.y1], [box.x2, box.y1], [box.x2, box.y2], [box.x1, box.y2]];
}

function path(ctx, points) {
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.closePath();
}

function label(ctx, text, x, y, fill, scale) {
  ctx.font = `${Math.round(14 * scale)}px system-ui, sans-serif`;
  const w = ctx.measureText(text).width + 6 * scale, h = 18 * scale;
  const top = y - h < 0 ? y : y - h;
  ctx.fillStyle = fill;
  ctx.fillRect(x, top, w, h);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 3 * scale, top + 14 * scale);
}

function drawItem(ctx, item, scale) {
  const c = color(item.class);
  ctx.lineWidth = 2 * scale;
  ctx.strokeStyle = c;
  if (item.segments && item.segments.x.length) {
    path(ctx, item.segments.x.map((x, i) => [x, item.segments.y[i]]));
    ctx.globalAlpha = 0.35; ctx.fillStyle = c; ctx.fill(); ctx.globalAlpha = 1; ctx.stroke();
  }
  const pts = corners(item.box);
  path(ctx, pts);
  ctx.stroke();
  if (item.keypoints) drawKeypoints(ctx, item.keypoints, scale);
  const [x, y] = pts.reduce((a, p) => (p[1] < a[1] ? p : a));
  label(ctx, `${item.name} ${item.confidence.toFixed(2)}`, x, y, c, scale);
}

function drawKeypoints(ctx, k, scale) {
  const seen = (i) => !k.visible || k.visible[i] >= 0.5;
  if (k.x.length === 17) {
    ctx.strokeStyle = "#fff";
    for (const [a, b] of SKELETON) {
      if (seen(a - 1) && seen(b - 1)) {
        ctx.beginPath(); ctx.moveTo(k.x[a - 1], k.y[a - 1]); ctx.lineTo(k.x[b - 1], k.y[b - 1]); ctx.stroke();
      }
    }
  }
  k.x.forEach((x, i) => {
    if (!seen(i)) return;
    ctx.beginPath(); ctx.arc(x, k.y[i], 4 * scale, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS[i % COLORS.length]; ctx.fill();
  });
}

function drawTopK(ctx, items, scale) {
  const w = Math.min(ctx.canvas.width * 0.6, 360 * scale), h = 22 * scale;
  items.forEach((item, i) => {
    const y = 8 * scale + i * (h + 4 * scale);
    ctx.fillStyle = "#000a"; ctx.fillRect(8 * scale, y, w, h);
    const share = item.confidence ?? item.pixel_ratio ?? 0; // semantic models: the class's share of pixels
    ctx.fillStyle = color(item.class); ctx.fillRect(8 * scale, y, w * share, h);
    ctx.font = `${Math.round(14 * scale)}px system-ui, sans-serif`;
    ctx.fillStyle = "#fff";
    ctx.fillText(`${item.name} ${share.toFixed(3)}`, 12 * scale, y + 16 * scale);
  });
}

// Per-pixel maps (the answer's `semantic_mask` or `depth`: a base64 PNG, edge.inference.dense_png) are
// blended over the image at MAP_ALPHA: each class in its colour; depth near (dark purple) to far (yellow).
export const MAP_ALPHA = 0.5;
// A few stops of matplotlib's "plasma", the depth colour ramp: [level 0..1, r, g, b].
const PLASMA = [[0, 13, 8, 135], [0.25, 126, 3, 168], [0.5, 204, 71, 120], [0.75, 248, 149, 64], [1, 240, 249, 33]];

export function plasma(level) {
  const i = Math.min(PLASMA.length - 2, Math.floor(level * (PLASMA.length - 1)));
  const [l0, ...a] = PLASMA[i], [l1, ...b] = PLASMA[i + 1];
  const t = Math.min(1, Math.max(0, (level - l0) / (l1 - l0)));
  return a.map((v, k) => Math.round(v + (b[k] - v) * t));
}

const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

// The map's PNG as pixel values (R of RGBA), unchanged by colour management. A 16-bit PNG arrives as
// its high byte: enough for depth's colours; past 256 classes the class map is not drawn.
async function mapPixels(field) {
  const bytes = Uint8Array.from(atob(field.data), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }),
    { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const ctx = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}

async function drawMap(ctx, answer) {
  const field = answer.semantic_mask || answer.depth;
  const pixels = await mapPixels(field);
  const colour = answer.semantic_mask ? (v) => rgb(color(v)) : (v) => plasma(v / 255);
  const lut = Array.from({ length: 256 }, (_, v) => colour(v));
  const { width, height } = ctx.canvas;
  // the map has the image's own size (as Ultralytics returns it); scaled if the canvas differs
  const over = new OffscreenCanvas(pixels.width, pixels.height).getContext("2d");
  const under = ctx.getImageData(0, 0, width, height);
  const same = pixels.width === width && pixels.height === height;
  const tinted = over.createImageData(pixels.width, pixels.height);
  for (let i = 0; i < tinted.data.length; i += 4) {
    const [r, g, b] = lut[pixels.data[i]];
    tinted.data.set([r, g, b, 255], i);
  }
  if (same) {
    for (let i = 0; i < under.data.length; i += 4) {
      for (let k = 0; k < 3; k++) {
        under.data[i + k] = Math.round(under.data[i + k] * (1 - MAP_ALPHA) + tinted.data[i + k] * MAP_ALPHA);
      }
    }
    ctx.putImageData(under, 0, 0);
  } else {
    over.putImageData(tinted, 0, 0);
    ctx.globalAlpha = MAP_ALPHA; ctx.imageSmoothingEnabled = false;
    ctx.drawImage(over.canvas, 0, 0, width, height);
    ctx.globalAlpha = 1;
  }
}

// The image, then the answer over it: its per-pixel map if any, then its items. `image`: a loaded
// HTMLImageElement (or null: a blank canvas of `size`, for an image the device fetched from a URL).
// `answer`: the whole HUB answer (its `data`, and `semantic_mask` or `depth` for those models).
export async function drawAnswer(canvas, image, answer, size = [640, 480]) {
  const items = answer.data;
  const [w, h] = image ? [image.naturalWidth, image.naturalHeight]
    : (answer.semantic_mask || answer.depth)?.shape?.slice().reverse() || size;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (image) ctx.drawImage(image, 0, 0); else { ctx.fillStyle = "#222"; ctx.fillRect(0, 0, w, h); }
  const scale = Math.max(1, Math.max(w, h) / 800);
  const classes = answer.semantic_mask ? Math.max(0, ...items.map((i) => i.class)) : 0;
  if ((answer.semantic_mask && classes < 256) || answer.depth) await drawMap(ctx, answer);
  if (items.length && !items[0].box) drawTopK(ctx, items, scale);
  else items.forEach((item) => drawItem(ctx, item, scale));
}
