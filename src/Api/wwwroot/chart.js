// Line charts as inline SVG, drawn by hand: a step axis, a value axis with round ticks, one path per series.

const SVG = 'http://www.w3.org/2000/svg';
export const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(x => x >= raw) ?? 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

const label = v => (Math.abs(v) >= 1000 ? v.toExponential(1) : +v.toPrecision(4)).toString();

/**
 * series: [{ label, steps: number[], values: number[], color? }]. baseline: a dashed line at each series' step-0 value.
 * Returns a <figure> whose data-points is the number of points drawn (each path also carries its own count).
 */
export function lineChart({ title, series, dots = false, baseline = false, width = 640, height = 220 }) {
  const m = { l: 56, r: 14, t: 12, b: 30 };
  const all = series.flatMap(x => x.values.map((v, i) => [x.steps[i], v])).filter(([, v]) => Number.isFinite(v));
  const total = series.reduce((n, x) => n + x.steps.length, 0);
  const figure = document.createElement('figure');
  figure.className = 'chart';
  figure.dataset.points = String(total);
  if (title) figure.append(Object.assign(document.createElement('figcaption'), { textContent: title }));
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title ?? 'chart' });
  figure.append(svg);
  if (all.length === 0) {
    svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty' }, 'No points yet'));
    return figure;
  }

  let [x0, x1] = [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))];
  let [y0, y1] = [Math.min(...all.map(p => p[1])), Math.max(...all.map(p => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  const pad = (y1 - y0) * 0.08 || Math.abs(y0) * 0.1 || 1;
  y0 -= pad; y1 += pad;
  const X = v => m.l + ((v - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = v => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);

  const grid = s('g', { class: 'grid' });
  for (const t of niceTicks(y0, y1, 4)) {
    grid.append(s('line', { x1: m.l, x2: width - m.r, y1: Y(t), y2: Y(t) }));
    grid.append(s('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end' }, label(t)));
  }
  for (const t of niceTicks(x0, x1, 6).filter(t => Number.isInteger(t))) {
    grid.append(s('text', { x: X(t), y: height - m.b + 16, 'text-anchor': 'middle' }, t));
  }
  grid.append(s('text', { x: width - m.r, y: height - 4, 'text-anchor': 'end', class: 'axis-name' }, 'step'));
  svg.append(grid, s('line', { class: 'axis', x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b }));

  series.forEach((x, i) => {
    const color = x.color ?? palette[i % palette.length];
    const pts = x.steps.map((st, j) => [st, x.values[j]]).filter(([, v]) => Number.isFinite(v));
    const d = pts.map(([st, v], j) => `${j ? 'L' : 'M'}${X(st).toFixed(1)},${Y(v).toFixed(1)}`).join('');
    const g = s('g', { class: 'series', 'data-series': x.label, 'data-points': pts.length });
    if (baseline && pts.length && pts[0][0] === 0) {
      g.append(s('line', { class: 'baseline', x1: m.l, x2: width - m.r, y1: Y(pts[0][1]), y2: Y(pts[0][1]), stroke: color },
        s('title', {}, `${x.label} · base model: ${+pts[0][1].toPrecision(6)}`)));
    }
    g.append(s('path', { d, stroke: color, fill: 'none', 'stroke-width': 1.8, 'stroke-linejoin': 'round' }));
    if (dots || pts.length === 1) {
      for (const [st, v] of pts) {
        g.append(s('circle', { cx: X(st), cy: Y(v), r: 3, fill: color }, s('title', {}, `${x.label} · step ${st}: ${+v.toPrecision(6)}`)));
      }
    }
    svg.append(g);
  });

  if (series.length > 1 || series[0]?.label) {
    const legend = document.createElement('div');
    legend.className = 'legend';
    series.forEach((x, i) => {
      const item = document.createElement('span');
      item.innerHTML = '<i></i>';
      item.firstChild.style.background = x.color ?? palette[i % palette.length];
      const last = x.values.at(-1);
      item.append(`${x.label}${last === undefined ? '' : ` (${+last.toPrecision(4)})`}`);
      legend.append(item);
    });
    figure.append(legend);
  }
  return figure;
}
