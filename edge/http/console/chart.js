// Small charts drawn on a <canvas> by the console itself (no library, nothing from another host).
// Each records what it drew in the canvas's dataset, so a test can look at the pixels where a bar is.

const AXIS = "#5c6670", GRID = "#e3e6ea";
export const SERIES = ["#0b6bcb", "#f08c00", "#2f9e44", "#c2255c"];

function setup(canvas) {
  const ratio = window.devicePixelRatio || 1, w = canvas.clientWidth || 320, h = canvas.clientHeight || 160;
  canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, w, h, ratio };
}

const nice = (v) => {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v)), m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
};
const short = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function axes(ctx, left, top, right, bottom, max, unit) {
  ctx.strokeStyle = GRID; ctx.fillStyle = AXIS; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = bottom - ((bottom - top) * i) / 4;
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
    ctx.fillText(short((max * i) / 4), 2, y + 4);
  }
  ctx.fillText(unit, left + 4, top - 4);
}

// Bars in groups: `groups` = [{label, values: [v per series]}]; `series` names the colours.
export function barChart(canvas, groups, series, unit) {
  const { ctx, w, h, ratio } = setup(canvas);
  const left = 40, top = 16, bottom = h - 34, right = w - 6;
  const max = nice(Math.max(0, ...groups.flatMap((g) => g.values.filter(Number.isFinite))));
  axes(ctx, left, top, right, bottom, max, unit);
  const slot = (right - left) / Math.max(groups.length, 1), bar = Math.min(28, (slot * 0.8) / series.length);
  const drawn = [];
  groups.forEach((g, i) => {
    const x0 = left + slot * i + (slot - bar * series.length) / 2;
    g.values.forEach((v, j) => {
      if (!Number.isFinite(v) || v <= 0) return;
      const bh = ((bottom - top) * v) / max, x = x0 + j * bar;
      ctx.fillStyle = SERIES[j % SERIES.length];
      ctx.fillRect(x, bottom - bh, bar - 2, bh);
      drawn.push([x, bottom - bh, bar - 2, bh].map((n) => Math.round(n * ratio)));
      ctx.fillStyle = AXIS;
      ctx.fillText(short(v), x, bottom - bh - 3);
    });
    ctx.fillStyle = AXIS;
    ctx.fillText(g.label, left + slot * i + 2, bottom + 14, slot - 4);
  });
  series.forEach((name, j) => {
    ctx.fillStyle = SERIES[j % SERIES.length]; ctx.fillRect(left + j * 90, h - 12, 10, 10);
    ctx.fillStyle = AXIS; ctx.fillText(name, left + j * 90 + 14, h - 3, 72);
  });
  canvas.dataset.bars = JSON.stringify(drawn); // device pixels [x, y, w, h], in drawing order
}

// A line over time: `points` = [[seconds, value]], oldest first.
export function lineChart(canvas, points, unit) {
  const { ctx, w, h, ratio } = setup(canvas);
  const left = 40, top = 16, bottom = h - 18, right = w - 6;
  const max = nice(Math.max(0, ...points.map(([, v]) => v)));
  axes(ctx, left, top, right, bottom, max, unit);
  const t0 = points.length ? points[0][0] : 0, t1 = points.length ? points[points.length - 1][0] : 1;
  const span = Math.max(t1 - t0, 1);
  const xy = points.map(([t, v]) => [left + ((right - left) * (t - t0)) / span, bottom - ((bottom - top) * v) / max]);
  ctx.strokeStyle = SERIES[0]; ctx.lineWidth = 2;
  ctx.beginPath();
  xy.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.stroke();
  ctx.fillStyle = AXIS;
  ctx.fillText(`last ${Math.round(span)} s`, right - 60, h - 4);
  canvas.dataset.points = JSON.stringify(xy.map(([x, y]) => [Math.round(x * ratio), Math.round(y * ratio)]));
}
