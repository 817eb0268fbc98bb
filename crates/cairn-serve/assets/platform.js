// Cairn: the whole platform, for global staff (the server refuses anyone else). Text goes
// in with textContent.
"use strict";

// A source as the ingester names it: its path, or "-" for standard input.
const sourceLabel = (path) => (path === "-" ? "standard input" : path);

// Every day, ISO week and month of the range [from, to], in that order: the server leaves
// out a period without any activity, registration or enrollment, shown here as zeros (a
// chart's axis keeps its days evenly spaced).
function everyPeriod(from, to, rows) {
  const got = new Map(rows.map((r) => [r.period + " " + r.start, r]));
  const starts = periodStarts(from, to);
  return ["day", "week", "month"].flatMap((period) => starts[period].map((start) =>
    got.get(period + " " + start) || { period, start, active: 0, registrations: 0, enrollments: 0 }));
}

async function start() {
  const r = await fetch("/api/platform" + location.search, { credentials: "same-origin" });
  if (r.status === 401) { window.location = "/login"; return; }
  const p = await r.json();
  if (!r.ok) { $("updated").textContent = p.error || r.statusText; document.body.dataset.ready = "1"; return; }
  // The range in use (the server's default: the last 8 ISO weeks); another one chosen
  // loads the page for it ("To" is the last day, included).
  $("from").value = p.from;
  $("to").value = p.to;
  for (const id of ["from", "to"]) {
    $(id).addEventListener("change", () => {
      if (!$("from").value || !$("to").value) return;
      location.search = "?" + new URLSearchParams({ from: $("from").value, to: $("to").value });
    });
  }
  // An empty lake has no newest event, so no lag, and may never have been ingested into.
  table("table-freshness", [["newest_event", "Newest event (UTC)", (v) => v || "none yet"],
    ["lag_seconds", "Lag", (v, r) => (r.newest_event ? duration(v) : "")],
    ["last_ingest", "Last ingestion (UTC)", (v) => v || "never"]], [p.freshness], false);
  const activity = everyPeriod(p.from, p.to, p.activity);
  const days = activity.filter((a) => a.period === "day");
  Chart.defaults.scales.linear.ticks.precision = 0;
  new Chart($("chart-days"), {
    type: "line",
    data: { labels: days.map((d) => d.start), datasets: [
      { label: "Active learners", data: days.map((d) => d.active), borderColor: "#2680c2", backgroundColor: "#2680c2" },
      { label: "Registrations", data: days.map((d) => d.registrations), borderColor: "#e12d39", backgroundColor: "#e12d39" },
      { label: "Enrollments", data: days.map((d) => d.enrollments), borderColor: "#3ebd93", backgroundColor: "#3ebd93" },
    ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false },
  });
  table("table-periods", [["period", "Period"], ["start", "Starting"], ["active", "Active learners"],
    ["registrations", "Registrations"], ["enrollments", "Enrollments"]], activity.filter((a) => a.period !== "day"));
  table("table-courses", [["course_id", "Course", (c) => (p.names[c] ? p.names[c] + " · " + c : c)],
    ["learners", "Active learners"], ["events", "Events"]], p.courses);
  table("table-ingest", [["hour", "Hour (UTC)"], ["path", "Source", sourceLabel], ["events", "Events"], ["rejected", "Rejected lines"]], p.ingest);
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", () => start().catch((e) => { $("updated").textContent = "error: " + e.message; }));
