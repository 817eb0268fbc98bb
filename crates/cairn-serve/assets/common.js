// Cairn pages' shared helpers: element lookup and tables filled with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);

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
    for (const [key] of columns) {
      const td = tr.insertCell();
      const v = row[key];
      td.textContent = v === null || v === undefined ? "" : String(v);
      if (typeof v === "number") td.className = "n";
    }
  }
}
