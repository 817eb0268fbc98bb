// The dashboards page: the list, a dashboard's charts (each run as the viewer with the
// course and date filters), and the editor (charts, sharing), duplicate and delete.
"use strict";

const state = { saved: null, current: null, generation: 0 };

function el(id) { return document.getElementById(id); }

const make = (...args) => window.CairnCharts.make(...args);

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(json.error || ("HTTP " + r.status));
  return json;
}

function params() {
  const p = {};
  if (el("course").value) p.course_id = el("course").value;
  if (el("from").value) p.from = el("from").value;
  if (el("to").value) p.to = el("to").value;
  return p;
}

// Only the parameters a chart's query names are sent.
function paramsFor(sql) {
  const all = params();
  const out = {};
  for (const [k, v] of Object.entries(all)) if (new RegExp("\\{\\s*" + k + "\\s*:").test(sql)) out[k] = v;
  return out;
}

async function loadList() {
  state.saved = await api("GET", "/api/saved");
  const list = el("dash-list");
  list.replaceChildren();
  for (const d of state.saved.dashboards) {
    const li = make("li");
    const a = make("a", d.name);
    a.href = "#" + d.id;
    a.dataset.id = d.id;
    li.appendChild(a);
    if (d.author !== state.saved.user) li.append(" ", make("span", "by " + d.author, "muted"));
    list.appendChild(li);
  }
}

async function show(id) {
  el("edit-form").hidden = true;
  const view = el("view");
  let got;
  try {
    got = await api("GET", "/api/dashboards/" + encodeURIComponent(id));
  } catch (err) {
    view.hidden = false;
    el("dash-title").textContent = String(err.message);
    el("grid").replaceChildren();
    return;
  }
  state.current = got;
  view.hidden = false;
  el("dash-title").textContent = got.dashboard.name;
  el("dash-about").textContent = got.dashboard.description || "";
  el("edit").hidden = !got.editable;
  el("delete").hidden = !got.editable;
  el("dash-status").textContent = "";
  await drawAll();
}

async function drawAll() {
  const got = state.current;
  if (!got) return;
  // A newer drawing (filters changed, another dashboard) makes this one stop.
  const generation = ++state.generation;
  const grid = el("grid");
  for (const b of grid.querySelectorAll(".tile .body")) if (b._chart) b._chart.destroy();
  grid.replaceChildren();
  document.body.dataset.drawn = "0";
  await Promise.all(got.charts.map(async (c) => {
    const tile = make("div", null, "tile");
    tile.dataset.chart = c.id;
    tile.appendChild(make("h3", c.name));
    const body = make("div", null, "body");
    tile.appendChild(body);
    grid.appendChild(tile);
    try {
      const result = await api("POST", "/api/charts/" + encodeURIComponent(c.id) + "/run", { params: paramsFor(c.sql) });
      if (generation !== state.generation) return;
      tile.dataset.rows = String(result.rows.length);
      tile._result = result;
      window.CairnCharts.draw(body, c, result);
      // A chart drawn from part of its result says so.
      if (result.truncated) {
        const why = result.cut === "bytes" ? "as much of the result as a page reads" : "a page holds at most that many";
        tile.appendChild(make("p", "Drawn from the first " + result.rows.length.toLocaleString() + " rows of the result (" + why + ").", "muted truncated"));
      }
    } catch (err) {
      body.appendChild(make("pre", err.message, "error"));
    }
  }));
  if (generation === state.generation) document.body.dataset.drawn = "1";
}

function openEditor(existing) {
  el("view").hidden = true;
  el("edit-form").hidden = false;
  el("edit-title").textContent = existing ? "Edit dashboard" : "New dashboard";
  el("d-name").value = existing ? existing.name : "";
  el("d-desc").value = existing ? existing.description : "";
  el("d-users").value = existing ? existing.shared_with.join(", ") : "";
  el("d-everyone").checked = existing ? existing.everyone : false;
  el("d-status").textContent = "";
  const pick = el("d-charts");
  pick.replaceChildren();
  const chosen = existing ? existing.charts : [];
  const charts = state.saved.charts.slice().sort((a, b) => (chosen.indexOf(a.id) + 1 || 1e9) - (chosen.indexOf(b.id) + 1 || 1e9));
  for (const c of charts) {
    const label = make("label");
    const box = make("input");
    box.type = "checkbox";
    box.value = c.id;
    box.checked = chosen.includes(c.id);
    label.append(box, " " + c.name + " ", make("span", "(" + c.type + (c.author !== state.saved.user ? ", by " + c.author : "") + ")", "muted"));
    pick.appendChild(label);
  }
  pick.dataset.editing = existing ? state.current.dashboard.id : "";
}

async function saveDashboard() {
  const editing = el("d-charts").dataset.editing;
  const dashboard = {
    name: el("d-name").value,
    description: el("d-desc").value,
    charts: [...el("d-charts").querySelectorAll("input:checked")].map((i) => i.value),
    shared_with: el("d-users").value.split(",").map((s) => s.trim()).filter((s) => s),
    everyone: el("d-everyone").checked,
  };
  try {
    const r = await api("POST", "/api/dashboards", { id: editing || null, dashboard });
    await loadList();
    if (location.hash === "#" + r.id) await show(r.id); else location.hash = r.id;
  } catch (err) {
    el("d-status").textContent = err.message;
  }
}

async function route() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (id) await show(id);
}

document.addEventListener("DOMContentLoaded", async () => {
  const me = await api("GET", "/api/courses");
  el("course").replaceChildren(...me.courses.map((c) => new Option(me.names[c] ? me.names[c] + " · " + c : c, c)));
  const range = window.CairnCharts.defaultRange();
  el("from").value = range.from;
  el("to").value = range.to;
  for (const id of ["course", "from", "to"]) el(id).addEventListener("change", drawAll);
  await loadList();
  el("new").addEventListener("click", () => { state.current = null; openEditor(null); });
  el("edit").addEventListener("click", () => openEditor(state.current.dashboard));
  el("d-save").addEventListener("click", saveDashboard);
  el("d-cancel").addEventListener("click", route);
  el("duplicate").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/api/dashboards/" + encodeURIComponent(state.current.dashboard.id) + "/duplicate");
      await loadList();
      location.hash = r.id;
    } catch (err) { el("dash-status").textContent = err.message; }
  });
  el("delete").addEventListener("click", async () => {
    try {
      await api("DELETE", "/api/dashboards/" + encodeURIComponent(state.current.dashboard.id));
      await loadList();
      el("view").hidden = true;
      location.hash = "";
    } catch (err) { el("dash-status").textContent = err.message; }
  });
  window.addEventListener("hashchange", route);
  document.body.dataset.ready = "1";
  await route();
});
