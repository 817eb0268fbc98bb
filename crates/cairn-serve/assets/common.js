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

// Rows ordered by their `key` values (numbers as numbers, text with its numbers read as
// such), "desc" the other way; rows without a value last either way.
function sortRows(rows, key, dir) {
  const sign = dir === "desc" ? -1 : 1;
  const empty = (v) => (v === null || v === undefined || v === "" ? 1 : 0);
  return [...rows].sort((a, b) => {
    const [x, y] = [a[key], b[key]];
    if (empty(x) || empty(y)) return empty(x) - empty(y);
    const c = typeof x === "number" && typeof y === "number"
      ? x - y
      : String(x).localeCompare(String(y), undefined, { numeric: true });
    return sign * c;
  });
}

// Fills table `id` with `rows` (objects), a column per [key, title, shown] of `columns`:
// `shown`, if a function, makes the cell's text or element from (value, row); "n" aligns
// a column of text as numbers (numbers are). Unless `sortable` is false, a click on a
// column's title orders the rows by its values (not as shown), a second the other way; the
// order stays when the table is filled again (the page's refresh, another course). With a
// `limit`, the first `limit` rows in that order are shown and a button shows them all.
function table(id, columns, rows, sortable = true, limit = Infinity) {
  const t = $(id);
  const { sortKey, sortDir } = t.dataset;
  if (t.dataset.all === "1") limit = Infinity;
  const ordered = sortable && columns.some(([key]) => key === sortKey) ? sortRows(rows, sortKey, sortDir) : rows;
  t.replaceChildren();
  const head = t.createTHead().insertRow();
  for (const [key, title] of columns) {
    const th = document.createElement("th");
    th.textContent = title;
    if (sortable && title) {
      th.className = "sortable";
      th.title = "Sort by " + title;
      if (key === sortKey) th.setAttribute("aria-sort", sortDir === "desc" ? "descending" : "ascending");
      th.addEventListener("click", () => {
        t.dataset.sortDir = key === t.dataset.sortKey && t.dataset.sortDir !== "desc" ? "desc" : "asc";
        t.dataset.sortKey = key;
        table(id, columns, rows, sortable, limit);
      });
    }
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const row of ordered.slice(0, limit)) {
    const tr = body.insertRow();
    for (const [key, , shown] of columns) {
      const td = tr.insertCell();
      const v = row[key];
      const out = typeof shown === "function" ? shown(v, row) : v;
      if (out instanceof Node) td.replaceChildren(out);
      else td.textContent = out === null || out === undefined ? "" : String(out);
      if (typeof v === "number" || shown === "n") td.className = "n";
    }
  }
  if (rows.length > limit) {
    const td = t.createTFoot().insertRow().insertCell();
    td.colSpan = columns.length;
    td.className = "muted";
    td.append("The first " + limit + " of " + rows.length + ". ");
    const all = document.createElement("button");
    all.type = "button";
    all.textContent = "Show all " + rows.length;
    all.addEventListener("click", () => {
      t.dataset.all = "1";
      table(id, columns, rows, sortable, limit);
    });
    td.append(all);
  }
  if (!rows.length) {
    // Said below the titles (not a body row: the body holds the data only).
    const td = t.createTFoot().insertRow().insertCell();
    td.colSpan = columns.length;
    td.className = "muted";
    td.textContent = "None.";
  }
}
