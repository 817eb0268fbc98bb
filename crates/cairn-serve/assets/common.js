// Cairn pages' shared helpers: element lookup and tables filled with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);

// The start of every day, ISO week (its Monday) and month (its first day) of the range
// [from, to] (YYYY-MM-DD, both included), each list in order.
function periodStarts(from, to) {
  const iso = (d) => d.toISOString().slice(0, 10);
  const starts = { day: [], week: [], month: [] };
  const last = new Date(to + "T00:00:00Z");
  for (let d = new Date(from + "T00:00:00Z"); d <= last; d.setUTCDate(d.getUTCDate() + 1)) {
    const monday = new Date(d);
    monday.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    const first = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    for (const [period, start] of [["day", iso(d)], ["week", iso(monday)], ["month", iso(first)]]) {
      const list = starts[period];
      if (list[list.length - 1] !== start) list.push(start);
    }
  }
  return starts;
}

// A duration in the unit that reads best: seconds, minutes, hours or days.
function duration(seconds) {
  if (seconds < 120) return Math.round(seconds) + " s";
  if (seconds < 120 * 60) return (seconds / 60).toFixed(1) + " min";
  if (seconds < 48 * 3600) return (seconds / 3600).toFixed(1) + " h";
  return (seconds / 86400).toFixed(1) + " days";
}

// A position in a video, or its length, as a clock: m:ss, or h:mm:ss from an hour.
function clock(seconds) {
  const s = Math.round(seconds);
  const ss = String(s % 60).padStart(2, "0");
  if (s < 3600) return Math.floor(s / 60) + ":" + ss;
  return Math.floor(s / 3600) + ":" + String(Math.floor(s / 60) % 60).padStart(2, "0") + ":" + ss;
}

// Fills table `id`: `columns` are [key, title] pairs (a third element "n" aligns a column
// of text as numbers), `rows` objects.
function table(id, columns, rows) {
  const t = $(id);
  t.replaceChildren();
  const head = t.createTHead().insertRow();
  for (const [, title] of columns) {
    const th = document.createElement("th");
    th.textContent = title;
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const [key, , align] of columns) {
      const td = tr.insertCell();
      const v = row[key];
      td.textContent = v === null || v === undefined ? "" : String(v);
      if (typeof v === "number" || align === "n") td.className = "n";
    }
  }
}
