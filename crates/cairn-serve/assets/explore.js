// The SQL explorer page: schema browser, editor, run (Ctrl-Enter), paged results, CSV.
"use strict";

const pageRows = 100;
let editor = null;
let result = null;
let page = 0;

function el(id) { return document.getElementById(id); }

const make = (...args) => window.CairnCharts.make(...args);

// The parameters the query names ({name:Type}), with the values typed in.
function params(sql) {
  const out = {};
  for (const name of ["course_id", "from", "to"]) {
    const v = el("param-" + name).value;
    if (v && new RegExp("\\{\\s*" + name + "\\s*:").test(sql)) out[name] = v;
  }
  return out;
}

// The editor's text. Chromium types a space after highlighted words in the editable area
// as a no-break space (U+00A0), which ClickHouse 18.16 does not read as a blank.
function sqlText() {
  return editor.state.doc.toString().replace(/\u00a0/g, " ");
}

function request() {
  const sql = sqlText();
  return { sql, params: params(sql) };
}

async function post(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
}

function showError(message) {
  const e = el("error");
  e.textContent = message;
  e.hidden = !message;
}

async function run() {
  showError("");
  el("truncated").hidden = true;
  el("status").textContent = "Running…";
  const started = performance.now();
  let r, body;
  try {
    r = await post("/api/query", request());
    body = await r.json();
  } catch (err) {
    el("status").textContent = "";
    showError("The dashboard did not answer: " + err);
    return;
  }
  if (!r.ok) {
    el("status").textContent = "";
    showError(body.error || ("HTTP " + r.status));
    return;
  }
  result = body;
  page = 0;
  const secs = (body.elapsed_ms / 1000).toFixed(2);
  const read = body.rows_read === null || body.rows_read === undefined ? "" : ", " + body.rows_read.toLocaleString() + " rows read";
  el("status").textContent = body.rows.length.toLocaleString() + (body.truncated ? "+" : "") + " rows in " + secs + " s" + read;
  el("status").dataset.ms = String(Math.round(performance.now() - started));
  if (body.truncated) {
    const t = el("truncated");
    const why = body.cut === "bytes" ? ", as much of the result as the page reads (" + document.body.dataset.pageMib + " MiB)" : "";
    t.textContent = "Truncated: the first " + body.rows.length.toLocaleString() + " rows are shown" + why + ". Download CSV for the whole result.";
    t.hidden = false;
  }
  render();
  builder();
}

// The chart builder: the result's columns in the x, y and series pickers.
function builder() {
  el("builder-section").hidden = false;
  const names = result.columns.map((c) => c.name);
  const numeric = result.columns.filter((c) => /Int|Float|Decimal/.test(c.type)).map((c) => c.name);
  const keep = (sel, extra) => {
    const old = sel.value;
    sel.replaceChildren();
    for (const n of extra.concat(names)) sel.appendChild(new Option(n || "(none)", n));
    if (names.includes(old) || extra.includes(old)) sel.value = old;
  };
  keep(el("chart-x"), []);
  keep(el("chart-series"), [""]);
  const ys = el("chart-y");
  const checked = new Set([...ys.querySelectorAll("input:checked")].map((i) => i.value));
  ys.replaceChildren(make("legend", "Y"));
  names.forEach((n, i) => {
    const label = make("label");
    const box = make("input");
    box.type = "checkbox";
    box.value = n;
    box.checked = checked.size ? checked.has(n) : (numeric.includes(n) && i > 0);
    box.addEventListener("change", preview);
    label.append(box, " " + n);
    ys.appendChild(label);
  });
  preview();
}

function chartSpec() {
  return {
    name: el("chart-name").value,
    description: el("chart-desc").value,
    sql: sqlText(),
    type: el("chart-type").value,
    x: el("chart-x").value,
    y: [...el("chart-y").querySelectorAll("input:checked")].map((i) => i.value),
    series: el("chart-series").value || null,
    stacked: el("chart-stacked").checked,
  };
}

function preview() {
  if (!result) return;
  try {
    window.CairnCharts.draw(el("chart-preview"), chartSpec(), result);
  } catch (err) {
    el("chart-preview").textContent = "Cannot draw: " + err;
  }
}

async function saveChart() {
  const status = el("chart-status");
  status.textContent = "Saving…";
  const r = await post("/api/charts", { chart: chartSpec(), params: request().params });
  const body = await r.json();
  status.textContent = r.ok ? "Saved chart " + body.id + "." : (body.error || ("HTTP " + r.status));
  if (r.ok) status.dataset.id = body.id;
}

function render() {
  const table = el("result");
  table.replaceChildren();
  el("result-section").hidden = false;
  const head = make("tr");
  for (const c of result.columns) {
    const th = make("th", c.name);
    th.title = c.type;
    head.appendChild(th);
  }
  table.appendChild(head);
  const first = page * pageRows;
  for (const row of result.rows.slice(first, first + pageRows)) {
    const tr = make("tr");
    row.forEach((v) => {
      const td = make("td", v === null ? "NULL" : String(v), typeof v === "number" ? "n" : (v === null ? "muted" : ""));
      tr.appendChild(td);
    });
    table.appendChild(tr);
  }
  const pages = Math.max(1, Math.ceil(result.rows.length / pageRows));
  el("page").textContent = "page " + (page + 1) + " of " + pages;
  el("prev").disabled = page === 0;
  el("next").disabled = page + 1 >= pages;
}

async function downloadCsv() {
  showError("");
  const r = await post("/api/query.csv", request());
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    showError(body.error || ("HTTP " + r.status));
    return;
  }
  const blob = await r.blob();
  const a = make("a");
  a.href = URL.createObjectURL(blob);
  a.download = "query.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

async function loadSchema() {
  const r = await fetch("/api/schema", { credentials: "same-origin" });
  const body = await r.json();
  const status = el("schema-status");
  if (!r.ok) {
    status.textContent = body.error || ("HTTP " + r.status);
    return {};
  }
  status.textContent = body.length + " tables and views you may read. Click a name to insert it.";
  const list = el("tables");
  const completion = {};
  for (const t of body) {
    completion[t.name] = t.columns.map((c) => c.name);
    const li = make("li", null, "table");
    li.dataset.table = t.name;
    const b = make("button", t.name);
    b.type = "button";
    b.addEventListener("click", () => insert(t.name));
    li.appendChild(b);
    if (t.about) li.appendChild(make("p", t.about, "about"));
    const cols = make("ul");
    for (const c of t.columns) {
      const ci = make("li");
      const code = make("code", c.name);
      code.addEventListener("click", () => insert(c.name));
      ci.append(code, " ", make("span", c.type, "muted"));
      if (c.about) ci.title = c.about;
      if (c.about) ci.append(make("div", c.about, "about"));
      cols.appendChild(ci);
    }
    li.appendChild(cols);
    list.appendChild(li);
  }
  return completion;
}

function insert(text) {
  const sel = editor.state.selection.main;
  editor.dispatch({ changes: { from: sel.from, to: sel.to, insert: text }, selection: { anchor: sel.from + text.length } });
  editor.focus();
}

async function showConnection() {
  const box = el("connection");
  const r = await fetch("/api/explorer/connection", { credentials: "same-origin" });
  const body = await r.json();
  box.replaceChildren();
  if (!r.ok) {
    box.textContent = body.error;
  } else {
    box.append(make("strong", "Your ClickHouse user for SQL clients (Superset, Metabase, Grafana, clickhouse-client): the same restrictions apply."));
    const dl = make("dl");
    for (const k of ["host", "http_port", "port", "database", "username", "password"]) {
      dl.append(make("dt", k), make("dd", String(body[k])));
    }
    box.appendChild(dl);
  }
  box.hidden = false;
}

// The parameters start as the dashboards' do: the viewer's first course (the others
// offered as they type), the last 8 ISO weeks.
async function paramDefaults() {
  const range = window.CairnCharts.defaultRange();
  el("param-from").value = range.from;
  el("param-to").value = range.to;
  const r = await fetch("/api/courses", { credentials: "same-origin" });
  if (!r.ok) return;
  const me = await r.json();
  const courses = me.courses || [];
  el("param-courses").replaceChildren(...courses.map((c) => new Option((me.names || {})[c] || "", c)));
  if (!el("param-course_id").value && courses.length) el("param-course_id").value = courses[0];
}

document.addEventListener("DOMContentLoaded", async () => {
  const start = "SELECT name, count() AS events\nFROM events\nGROUP BY name\nORDER BY events DESC\nLIMIT 20";
  paramDefaults().catch((err) => { el("status").textContent = "course list: " + err.message; });
  let completion = {};
  try { completion = await loadSchema(); } catch (err) { el("schema-status").textContent = String(err); }
  editor = window.CairnEditor.create(el("editor"), start, completion, run, document.body.dataset.nonce);
  el("run").addEventListener("click", run);
  el("csv").addEventListener("click", downloadCsv);
  el("connect").addEventListener("click", showConnection);
  for (const id of ["chart-type", "chart-x", "chart-series", "chart-stacked"]) el(id).addEventListener("change", preview);
  el("chart-save").addEventListener("click", saveChart);
  el("prev").addEventListener("click", () => { page -= 1; render(); });
  el("next").addEventListener("click", () => { page += 1; render(); });
});
