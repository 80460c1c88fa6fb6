// The usage page: messages, tokens and cost per day and per model from
// GET /usage, drawn as inline SVG bar charts, and what is left of each
// monthly budget.

import { get } from './api.js';
import { h, replace, svg } from './dom.js';

const usd = (value) => `$${value.toFixed(value < 1 ? 4 : 2)}`;
const micros = (value) => usd(value / 1e6);

/** A bar chart of `rows` ([label, value]) with a title, drawn to scale. */
function barChart(title, rows, format = String) {
  const width = 640;
  const bar = 22;
  const labelWidth = 110;
  const height = Math.max(1, rows.length) * (bar + 8) + 8;
  const max = Math.max(...rows.map(([, v]) => v), 0) || 1;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title },
    svg('title', null, title));
  rows.forEach(([label, value], i) => {
    const y = 8 + i * (bar + 8);
    const w = Math.max(1, ((width - labelWidth - 90) * value) / max);
    chart.appendChild(svg('text', { x: labelWidth - 8, y: y + bar / 2 + 5, 'text-anchor': 'end', class: 'chart-label' }, label));
    chart.appendChild(svg('rect', { x: labelWidth, y, width: w, height: bar, rx: 3, class: 'chart-bar' },
      svg('title', null, `${label}: ${format(value)}`)));
    chart.appendChild(svg('text', { x: labelWidth + w + 6, y: y + bar / 2 + 5, class: 'chart-value' }, format(value)));
  });
  if (!rows.length) chart.appendChild(svg('text', { x: 8, y: 24, class: 'chart-label' }, 'Nothing yet'));
  return h('figure', { class: 'chart-box' }, h('figcaption', null, title), chart);
}

/** The usage page in `main`: the caller's own, or an administrator's whole org. */
export async function usageView(main, me, scope = 'mine') {
  replace(main, h('p', { class: 'loading' }, 'Loading usage…'));
  const report = await get(scope === 'org' ? '/usage/system' : '/usage');
  const choose = me.role === 'ADMIN' ? h('select', { 'aria-label': 'Whose usage' },
    h('option', { value: 'mine', selected: scope === 'mine' }, 'Mine'),
    h('option', { value: 'org', selected: scope === 'org' }, 'The whole organisation')) : null;
  choose?.addEventListener('change', () => usageView(main, me, choose.value));
  const days = report.by_day;
  const models = report.by_model;
  const totals = report.totals;
  const budgets = report.budgets.length
    ? report.budgets.map((b) => {
      const left = h('meter', { min: 0, max: b.limit_micros, value: b.remaining_micros, 'aria-label': `${b.scope} budget left` });
      return h('div', { class: 'budget' }, h('strong', null, `${b.scope === 'org' ? 'Organisation' : 'Your'} budget`),
        left, ` ${micros(b.remaining_micros)} left of ${micros(b.limit_micros)} (resets ${new Date(b.resets_at).toLocaleDateString()})`);
    })
    : [h('p', { class: 'muted' }, 'No monthly budget is set: usage is not capped.')];
  replace(main, h('div', { class: 'usage' },
    h('div', { class: 'row' }, h('h1', null, 'Usage'), choose),
    h('dl', { class: 'totals' },
      h('div', null, h('dt', null, 'Messages'), h('dd', null, String(totals.messages))),
      h('div', null, h('dt', null, 'Model calls'), h('dd', null, String(totals.requests))),
      h('div', null, h('dt', null, 'Tokens'), h('dd', null, totals.total_tokens.toLocaleString())),
      h('div', null, h('dt', null, 'Cost'), h('dd', null, usd(totals.cost_usd)))),
    h('section', { class: 'budgets' }, h('h2', null, 'Budget remaining'), budgets),
    h('section', { class: 'charts' },
      h('h2', null, 'Per day'),
      barChart('Messages per day', days.map((d) => [d.day, d.messages])),
      barChart('Tokens per day', days.map((d) => [d.day, d.total_tokens]), (v) => v.toLocaleString()),
      barChart('Cost per day', days.map((d) => [d.day, d.cost_usd]), usd),
      h('h2', null, 'Per model'),
      barChart('Model calls per model', models.map((m) => [m.model, m.requests])),
      barChart('Tokens per model', models.map((m) => [m.model, m.total_tokens]), (v) => v.toLocaleString()),
      barChart('Cost per model', models.map((m) => [m.model + (m.unpriced ? ' *' : ''), m.cost_usd]), usd),
      models.some((m) => m.unpriced) ? h('p', { class: 'muted small' }, '* no price is known for this model, so its cost reads 0.') : null)));
  return { close() {} };
}
