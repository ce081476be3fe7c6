// A bar chart of tokens per day, drawn by the page as inline SVG (no library, no image from elsewhere).

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const LEFT = 56;
const BOTTOM = 28;
const TOP = 12;

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** Every day from `from` to `to` (UTC `YYYY-MM-DD`), each with its entry in `days` or zeros. */
export function fillDays(from, to, days) {
  const byDate = new Map(days.map((day) => [day.date, day]));
  const result = [];
  for (let time = Date.parse(`${from}T00:00:00Z`); time <= Date.parse(`${to}T00:00:00Z`); time += 86400000) {
    const date = new Date(time).toISOString().slice(0, 10);
    result.push(byDate.get(date) || { date, requests: 0, total_tokens: 0, prompt_tokens: 0, completion_tokens: 0 });
  }
  return result;
}

/** A round number at or above `value`, for the top of the axis. */
function niceMaximum(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** The chart: one bar per day of `days` (total tokens), labelled for screen readers and on hover. */
export function usageChart(days, label) {
  const top = niceMaximum(Math.max(...days.map((day) => day.total_tokens), 0));
  const plotHeight = HEIGHT - BOTTOM - TOP;
  const slot = (WIDTH - LEFT) / Math.max(days.length, 1);
  const total = days.reduce((sum, day) => sum + day.total_tokens, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart",
    "aria-label": `${label}: ${total.toLocaleString()} tokens over ${days.length} days`,
  });
  chart.append(svg("title", {}, label));
  for (const fraction of [0, 0.5, 1]) {
    const y = TOP + plotHeight * (1 - fraction);
    chart.append(svg("line", { x1: LEFT, x2: WIDTH, y1: y, y2: y, class: "grid" }));
    chart.append(svg("text", { x: LEFT - 6, y: y + 4, "text-anchor": "end", class: "axis" }, (top * fraction).toLocaleString()));
  }
  days.forEach((day, index) => chart.append(bar(day, index, slot, top, plotHeight)));
  const last = days.length - 1;
  for (const index of new Set([0, Math.floor(last / 2), last])) {
    if (!days[index]) continue;
    const anchor = index === 0 && last > 0 ? "start" : index === last && last > 0 ? "end" : "middle";
    const x = anchor === "start" ? LEFT + slot * index : anchor === "end" ? LEFT + slot * (index + 1) : LEFT + slot * (index + 0.5);
    chart.append(svg("text", { x, y: HEIGHT - 8, "text-anchor": anchor, class: "axis" }, days[index].date.slice(5)));
  }
  return chart;
}

function bar(day, index, slot, top, plotHeight) {
  const height = top > 0 ? (day.total_tokens / top) * plotHeight : 0;
  const group = svg("g", { class: "bar", "data-date": day.date, "data-tokens": day.total_tokens });
  group.append(svg("title", {}, `${day.date}: ${day.total_tokens.toLocaleString()} tokens, ${day.requests} request(s)`));
  group.append(svg("rect", {
    x: LEFT + slot * index + slot * 0.15, width: slot * 0.7,
    y: TOP + plotHeight - height, height: Math.max(height, day.total_tokens > 0 ? 1 : 0),
  }));
  return group;
}
