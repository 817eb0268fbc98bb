// Draws a saved chart's result with Chart.js (line, bar, pie, big number, table,
// histogram): CairnCharts.draw(container, chart, result).
"use strict";

(function () {
  const palette = ["#2680c2", "#e12d39", "#3ebd93", "#f0b429", "#8662c7", "#f35627", "#0b69a3", "#7b8794"];

  function make(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function col(result, name) {
    return result.columns.findIndex((c) => c.name === name);
  }

  function table(container, result) {
    const t = make("table");
    const head = make("tr");
    result.columns.forEach((c) => head.appendChild(make("th", c.name)));
    t.appendChild(head);
    for (const row of result.rows.slice(0, 200)) {
      const tr = make("tr");
      row.forEach((v) => tr.appendChild(make("td", v === null ? "NULL" : String(v), typeof v === "number" ? "n" : "")));
      t.appendChild(tr);
    }
    const wrap = make("div", null, "scroll");
    wrap.appendChild(t);
    container.appendChild(wrap);
  }

  function datasets(chart, result) {
    const xi = col(result, chart.x);
    const labels = [];
    const seen = new Map();
    for (const row of result.rows) {
      const l = String(row[xi]);
      if (!seen.has(l)) { seen.set(l, labels.length); labels.push(l); }
    }
    const out = [];
    if (chart.series) {
      const si = col(result, chart.series);
      const yi = col(result, chart.y[0]);
      const bySeries = new Map();
      for (const row of result.rows) {
        const key = String(row[si]);
        if (!bySeries.has(key)) bySeries.set(key, new Array(labels.length).fill(null));
        bySeries.get(key)[seen.get(String(row[xi]))] = row[yi];
      }
      for (const [name, data] of bySeries) out.push({ label: name, data });
    } else {
      for (const y of chart.y) {
        const yi = col(result, y);
        const data = new Array(labels.length).fill(null);
        for (const row of result.rows) data[seen.get(String(row[xi]))] = row[yi];
        out.push({ label: y, data });
      }
    }
    out.forEach((d, i) => {
      d.backgroundColor = palette[i % palette.length];
      d.borderColor = palette[i % palette.length];
    });
    return { labels, datasets: out };
  }

  function histogram(chart, result) {
    const xi = col(result, chart.x);
    const values = result.rows.map((r) => Number(r[xi])).filter((v) => Number.isFinite(v));
    const bins = 20;
    const min = Math.min(...values);
    const max = Math.max(...values);
    const width = max > min ? (max - min) / bins : 1;
    const counts = new Array(bins).fill(0);
    for (const v of values) counts[Math.min(bins - 1, Math.floor((v - min) / width))] += 1;
    const labels = counts.map((_, i) => (min + i * width).toPrecision(4));
    return { labels, datasets: [{ label: chart.x, data: counts, backgroundColor: palette[0] }] };
  }

  function draw(container, chart, result) {
    if (container._chart) { container._chart.destroy(); container._chart = null; }
    container.replaceChildren();
    if (chart.type === "table") { table(container, result); return; }
    if (chart.type === "number") {
      const yi = col(result, chart.y[0]);
      const v = result.rows.length ? result.rows[0][yi] : null;
      container.appendChild(make("div", v === null ? "–" : Number(v).toLocaleString(), "big-number"));
      return;
    }
    const canvas = make("canvas");
    const box = make("div", null, "chart");
    box.appendChild(canvas);
    container.appendChild(box);
    let data;
    let type = chart.type;
    if (type === "histogram") { data = histogram(chart, result); type = "bar"; } else { data = datasets(chart, result); }
    const options = { responsive: true, maintainAspectRatio: false, animation: false };
    if (type === "bar" && chart.stacked) options.scales = { x: { stacked: true }, y: { stacked: true } };
    if (type === "pie") {
      data.datasets = data.datasets.slice(0, 1);
      data.datasets[0].backgroundColor = data.labels.map((_, i) => palette[i % palette.length]);
    }
    container._chart = new window.Chart(canvas, { type, data, options });
  }

  // The course overview's default range: the last 8 ISO weeks, this one included (UTC);
  // `to` is the last day, inclusive.
  function defaultRange() {
    const day = 86400000;
    const today = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z");
    const monday = today.getTime() - ((today.getUTCDay() + 6) % 7) * day;
    return {
      from: new Date(monday - 49 * day).toISOString().slice(0, 10),
      to: new Date(monday + 6 * day).toISOString().slice(0, 10),
    };
  }

  // Shared with the pages' scripts: an element with text and a class, the default range.
  window.CairnCharts = { draw, make, defaultRange };
})();
