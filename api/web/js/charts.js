// Time-series charts with uPlot (vendored, MIT): one chart per answer of /building/charts.
import uPlot from "../vendor/uplot/uPlot.esm.js";

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

function width(node) { return Math.max(280, Math.floor(node.getBoundingClientRect().width || 600)); }

export function draw(node, answer, title) {
  node.textContent = "";
  if (!answer.series.length) {
    node.append(Object.assign(document.createElement("p"), { className: "empty", textContent: `${title}: no readings in this range.` }));
    return null;
  }
  const data = [answer.times, ...answer.series.map((s) => s.values)];
  const options = {
    title, width: width(node), height: 260,
    series: [{}, ...answer.series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false }))],
    axes: [{}, { label: answer.unit, size: 56 }],
    legend: { live: false },
  };
  const plot = new uPlot(options, data, node);
  const resize = () => plot.setSize({ width: width(node), height: 260 });
  window.addEventListener("resize", resize);
  node.plot = plot;
  return plot;
}
