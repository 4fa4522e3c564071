// Time per backlog item as a horizontal bar chart in SVG: one bar per item, an hour axis
// with gridlines, the item's time written at the end of its bar. Where a coding agent was
// at work on an item too, a strip under its bar splits it between the person and the
// agents (each one's share of their own times, which overlap where they worked at once).

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Whole minutes to the nearest (30 s and more up): scribe-ls's one rule for durations. */
export function formatSeconds(seconds) {
  const minutes = Math.round(Math.max(0, seconds) / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** A step for the axis: 15 min, 30 min, 1 h, 2 h… so that about five ticks fit. */
function tickStep(maxSeconds) {
  const steps = [900, 1800, 3600, 7200, 14400, 28800, 57600, 115200];
  return steps.find((step) => maxSeconds / step <= 5) ?? steps.at(-1);
}

/** Each item's time by author, from a `by: "author"` time report's rows:
 * `Map(item -> [{author, seconds}])`, person first, only for items an agent worked on. */
export function splitByAuthor(authorRows) {
  const split = new Map();
  for (const row of authorRows) {
    if (!split.has(row.item)) split.set(row.item, []);
    split.get(row.item).push({ author: row.author, seconds: row.seconds });
  }
  for (const [item, parts] of split) {
    if (parts.every((part) => part.author === 'person')) split.delete(item);
    else parts.sort((a, b) => (a.author !== 'person') - (b.author !== 'person') || a.author.localeCompare(b.author));
  }
  return split;
}

/** `person 40m · claude-code 35m, 10m of it at once`: an item's split in words. */
export function splitSaid(parts, itemSeconds) {
  const each = parts.map((part) => `${part.author} ${formatSeconds(part.seconds)}`).join(' · ');
  const once = parts.reduce((sum, part) => sum + part.seconds, 0) - itemSeconds;
  return once >= 60 ? `${each}, ${formatSeconds(once)} of it at once` : each;
}

/** An <svg> of `rows` ([{item, title, seconds}], most time first); `split` (from
 * splitByAuthor) adds the person/agent strip under the items it has. */
export function barChart(rows, { width = 640, title = 'Time per item', split = new Map() } = {}) {
  const shown = rows.slice(0, 12);
  const labelWidth = 150;
  const barHeight = 22;
  const strip = 6; // the person/agent split under a bar
  const gap = 8 + (split.size ? strip + 2 : 0);
  const top = 8;
  const axis = 28;
  const plotWidth = width - labelWidth - 70;
  const height = top + shown.length * (barHeight + gap) + axis;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title });
  svg.append(el('title', {}, title));
  const max = Math.max(60, ...shown.map((row) => row.seconds));
  const step = tickStep(max);
  const end = Math.ceil(max / step) * step;
  const x = (seconds) => labelWidth + (seconds / end) * plotWidth;
  const bottom = top + shown.length * (barHeight + gap);
  for (let t = 0; t <= end; t += step) {
    svg.append(el('line', { x1: x(t), x2: x(t), y1: top - 4, y2: bottom, class: 'grid' }));
    svg.append(el('text', { x: x(t), y: bottom + 18, 'text-anchor': 'middle', class: 'tick' }, formatSeconds(t)));
  }
  shown.forEach((row, index) => {
    const y = top + index * (barHeight + gap);
    const label = row.item.length > 20 ? `${row.item.slice(0, 19)}…` : row.item;
    const name = el('text', { x: labelWidth - 8, y: y + barHeight * 0.7, 'text-anchor': 'end', class: 'label' }, label);
    name.append(el('title', {}, `${row.item}: ${row.title}`));
    svg.append(name);
    const parts = split.get(row.item);
    const said = parts ? ` (${splitSaid(parts, row.seconds)})` : '';
    const bar = el('rect', { x: labelWidth, y, width: Math.max(1, x(row.seconds) - labelWidth), height: barHeight, rx: 3, class: 'bar' });
    bar.append(el('title', {}, `${row.item}: ${formatSeconds(row.seconds)}${said}`));
    svg.append(bar);
    svg.append(el('text', { x: x(row.seconds) + 6, y: y + barHeight * 0.7, class: 'value' }, formatSeconds(row.seconds)));
    if (parts) {
      const whole = parts.reduce((sum, part) => sum + part.seconds, 0) || 1;
      let left = labelWidth;
      for (const part of parts) {
        const wide = ((x(row.seconds) - labelWidth) * part.seconds) / whole;
        const kind = part.author === 'person' ? 'person' : 'agent';
        const segment = el('rect', { x: left, y: y + barHeight + 2, width: Math.max(1, wide), height: strip, class: `split split-${kind}`, 'data-author': part.author });
        segment.append(el('title', {}, `${row.item}: ${part.author} ${formatSeconds(part.seconds)}`));
        svg.append(segment);
        left += wide;
      }
    }
  });
  svg.append(el('line', { x1: labelWidth, x2: labelWidth, y1: top - 4, y2: bottom, class: 'axis' }));
  return svg;
}

/** The strip's key, for a chart with a split: what its two colours are. */
export function splitLegend() {
  const legend = document.createElement('p');
  legend.className = 'legend muted';
  for (const [kind, words] of [['person', 'the person'], ['agent', 'coding agents']]) {
    const swatch = document.createElement('span');
    swatch.className = `swatch split-${kind}`;
    swatch.setAttribute('aria-hidden', 'true');
    legend.append(swatch, ` ${words} `);
  }
  legend.append('(the strip under a bar: each one\'s share of the item\'s time)');
  return legend;
}
