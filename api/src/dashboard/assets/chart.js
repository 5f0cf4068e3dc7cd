// Small SVG charts built with DOM calls (no inline style, no library).

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * Stacked bars over time: `points` is `[{t, values: {series: n}}]` oldest first, `series` is
 * `[[name, cssClass]]` bottom first. The tooltip of each bar says its time and counts.
 */
export function bars(points, series, { width = 600, height = 120, label = (t) => new Date(t).toISOString() } = {}) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", preserveAspectRatio: "none", role: "img" });
  const max = Math.max(1, ...points.map((p) => series.reduce((sum, [name]) => sum + (p.values[name] ?? 0), 0)));
  const step = width / Math.max(1, points.length);
  points.forEach((p, i) => {
    let y = height;
    const group = s("g");
    const title = s("title");
    title.textContent = `${label(p.t)}\n${series.map(([name]) => `${name}: ${p.values[name] ?? 0}`).join("\n")}`;
    group.append(title);
    for (const [name, cls] of series) {
      const v = p.values[name] ?? 0;
      if (!v) continue;
      const h = (v / max) * (height - 4);
      y -= h;
      group.append(s("rect", { x: i * step, y, width: Math.max(1, step - 1), height: h, class: cls }));
    }
    // an invisible full-height bar, so the tooltip is there even over an empty minute
    group.prepend(s("rect", { x: i * step, y: 0, width: step, height, class: "hit" }));
    svg.append(group);
  });
  const top = s("text", { x: 4, y: 12, class: "axis" });
  top.textContent = String(max);
  svg.append(top);
  return svg;
}

/** A line of recent values (`values` oldest first), scaled to its own maximum. */
export function sparkline(values, { width = 160, height = 32, cls = "line" } = {}) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", preserveAspectRatio: "none" });
  if (values.length < 2) return svg;
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const d = values.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join("");
  svg.append(s("path", { d, class: cls }));
  return svg;
}
