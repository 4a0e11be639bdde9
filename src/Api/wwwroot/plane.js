// The learning/forgetting plane as inline SVG: forgetting (x) against learning (y), one point per job labelled by
// method and rank, a faint path through its evaluated steps, the Pareto front as a line. Clicking a point opens the job.

import { s, niceTicks, palette } from './chart.js';

const label = v => (+v.toPrecision(3)).toString();

export const methodLabel = job => (job.method === 'lora' ? `LoRA r=${job.rank}` : job.method);

/** jobs: the API's point shape; front: job ids on the front by increasing forgetting. */
export function planeChart({ jobs, front, best, learningMetric, forgettingMetric, width = 760, height = 440 }) {
  const m = { l: 64, r: 24, t: 16, b: 44 };
  const placed = jobs.filter(j => j.learning !== null && j.forgetting !== null);
  const figure = document.createElement('figure');
  figure.className = 'chart plane';
  figure.dataset.points = String(placed.length);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'learning against forgetting' });
  figure.append(svg);
  if (placed.length === 0) {
    svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty' }, 'No job has been evaluated after step 0 yet'));
    return figure;
  }

  const xs = [0, ...placed.flatMap(j => [j.forgetting, ...j.path.map(p => p.forgetting)])];
  const ys = [0, ...placed.flatMap(j => [j.learning, ...j.path.map(p => p.learning)])];
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const padX = (x1 - x0) * 0.08 || Math.abs(x0) * 0.1 || 0.01;
  const padY = (y1 - y0) * 0.08 || Math.abs(y0) * 0.1 || 0.01;
  x0 -= padX; x1 += padX; y0 -= padY; y1 += padY;
  const X = v => m.l + ((v - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = v => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);

  const grid = s('g', { class: 'grid' });
  for (const t of niceTicks(y0, y1, 5)) {
    grid.append(s('line', { x1: m.l, x2: width - m.r, y1: Y(t), y2: Y(t) }));
    grid.append(s('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end' }, label(t)));
  }
  for (const t of niceTicks(x0, x1, 6)) {
    grid.append(s('line', { x1: X(t), x2: X(t), y1: m.t, y2: height - m.b }));
    grid.append(s('text', { x: X(t), y: height - m.b + 16, 'text-anchor': 'middle' }, label(t)));
  }
  grid.append(s('text', { x: width - m.r, y: height - 6, 'text-anchor': 'end', class: 'axis-name' }, `forgetting (${forgettingMetric ?? '–'}) →`));
  grid.append(s('text', { x: 12, y: m.t + 4, transform: `rotate(-90 12 ${m.t + 4})`, 'text-anchor': 'end', class: 'axis-name' }, `learning (${learningMetric ?? '–'}) →`));
  svg.append(grid);

  const paths = s('g', { class: 'paths' });
  placed.forEach((job, i) => {
    if (job.path.length < 2) return;
    const d = job.path.map((p, k) => `${k ? 'L' : 'M'}${X(p.forgetting).toFixed(1)},${Y(p.learning).toFixed(1)}`).join('');
    paths.append(s('path', { d, class: 'job-path', stroke: palette[i % palette.length], 'data-job-id': job.job_id, 'data-steps': job.path.length }));
  });
  svg.append(paths);

  const byId = new Map(placed.map(j => [j.job_id, j]));
  const frontJobs = front.map(id => byId.get(id)).filter(Boolean);
  if (frontJobs.length > 1) {
    svg.append(s('path', {
      class: 'front', 'data-points': frontJobs.length,
      d: frontJobs.map((j, k) => `${k ? 'L' : 'M'}${X(j.forgetting).toFixed(1)},${Y(j.learning).toFixed(1)}`).join(''),
    }));
  }

  const points = s('g', { class: 'points' });
  placed.forEach((job, i) => {
    const go = () => { location.hash = `#/jobs/${job.job_id}`; };
    const g = s('g', {
      class: `point${job.on_front ? ' on-front' : ''}${job.job_id === best ? ' best' : ''}`, tabindex: 0, role: 'link',
      'data-job-id': job.job_id, 'data-on-front': job.on_front, 'data-learning': job.learning, 'data-forgetting': job.forgetting,
    },
    s('circle', { cx: X(job.forgetting), cy: Y(job.learning), r: job.on_front ? 6 : 4.5, fill: palette[i % palette.length] },
      s('title', {}, `${job.name ?? job.job_id}\nlearning ${label(job.learning)} · forgetting ${label(job.forgetting)}`)),
    s('text', { x: X(job.forgetting) + 8, y: Y(job.learning) - 6, class: 'point-label' }, methodLabel(job)));
    g.addEventListener('click', go);
    g.addEventListener('keydown', e => { if (e.key === 'Enter') go(); });
    points.append(g);
  });
  svg.append(points);
  return figure;
}
