// The Prometheus text format (GET /metrics) -> samples; only what the Service page reads.
// "name{a=\"x\",b=\"y\"} 12.5" -> { name, labels: {a: "x", b: "y"}, value: 12.5 }; comments are skipped.
const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const unescape = (v) => v.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));

export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] || "").matchAll(LABEL)) labels[k] = unescape(v);
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

// The sum of `name`'s samples, grouped by the labels `by` (a key of their values joined by "|").
export function sumBy(samples, name, by = [], keep = () => true) {
  const out = new Map();
  for (const s of samples) {
    if (s.name !== name || !keep(s.labels)) continue;
    const key = by.map((b) => s.labels[b] ?? "").join("|");
    out.set(key, (out.get(key) || 0) + s.value);
  }
  return out;
}

// A histogram's `q` quantile per group, as Prometheus' histogram_quantile does (linear within a bucket;
// the highest finite bound when it falls in +Inf). `buckets`: the *_bucket samples of one histogram.
export function quantiles(samples, name, by, q) {
  const groups = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const key = by.map((b) => s.labels[b] ?? "").join("|");
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    const list = groups.get(key) || [];
    const same = list.find((b) => b.le === le);
    if (same) same.count += s.value; else list.push({ le, count: s.value });
    groups.set(key, list);
  }
  const out = new Map();
  for (const [key, list] of groups) {
    list.sort((a, b) => a.le - b.le);
    const total = list[list.length - 1].count;
    if (!total) continue;
    const rank = q * total;
    let lower = 0, below = 0;
    for (const { le, count } of list) {
      if (count >= rank) {
        out.set(key, le === Infinity ? lower : lower + (le - lower) * ((rank - below) / Math.max(count - below, 1e-12)));
        break;
      }
      lower = le; below = count;
    }
  }
  return out;
}
