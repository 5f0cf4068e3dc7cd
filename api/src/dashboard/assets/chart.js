// The bar chart of the history pages: SVG built with DOM calls (no inline style, no library).

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * Stacked bars over time, in a box with the scale's top: `points` is `[{t, values: {series: n}}]` oldest first, `series` is
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
  // The scale's top as text beside the drawing, which stretches to its box.
  const box = document.createElement("div");
  box.className = "chart-box";
  const top = document.createElement("span");
  top.className = "axis";
  top.textContent = String(max);
  box.append(svg, top);
  return box;
}
