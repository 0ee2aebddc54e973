// Drawing a HUB answer over its image on a canvas, for every task: boxes and labels (detect),
// polygons (segment), keypoints with the COCO skeleton (pose), four corners (obb), top-k bars
// (classify; semantic models: each class's pixel share). Coordinates are original-image pixels (the console never asks for normalize).
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

// The image, then the answer's items over it. `image`: a loaded HTMLImageElement (or null: a blank
// canvas of `size`, for an image the device fetched from a URL).
export function drawAnswer(canvas, image, items, size = [640, 480]) {
  const [w, h] = image ? [image.naturalWidth, image.naturalHeight] : size;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  if (image) ctx.drawImage(image, 0, 0); else { ctx.fillStyle = "#222"; ctx.fillRect(0, 0, w, h); }
  const scale = Math.max(1, Math.max(w, h) / 800);
  if (items.length && !items[0].box) drawTopK(ctx, items, scale);
  else items.forEach((item) => drawItem(ctx, item, scale));
}
