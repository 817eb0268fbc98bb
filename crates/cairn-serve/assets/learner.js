// Cairn: one learner in one course (/learner?course_id=…&user_id=…). The server checks the
// course and the right to see identities on every request. Text goes in with textContent.
"use strict";

const yes = (b) => (b ? "yes" : "no");

async function start() {
  const q = new URLSearchParams(location.search);
  const p = new URLSearchParams({ course_id: q.get("course_id") || "", user_id: q.get("user_id") || "" });
  for (const k of ["from", "to"]) if (q.get(k)) p.set(k, q.get(k));
  $("back").href = "/#" + encodeURIComponent(q.get("course_id") || "");
  const r = await fetch("/api/learner?" + p, { credentials: "same-origin" });
  if (r.status === 401) { window.location = "/login"; return; }
  const v = await r.json();
  if (!r.ok) { $("who").textContent = v.error || r.statusText; document.body.dataset.ready = "1"; return; }
  // The range in use; another one chosen loads the page for it ("To" is the last day).
  $("from").value = v.from;
  $("to").value = v.to;
  for (const id of ["from", "to"]) {
    $(id).addEventListener("change", () => {
      if (!$("from").value || !$("to").value) return;
      q.set("from", $("from").value);
      q.set("to", $("to").value);
      location.search = "?" + q;
    });
  }
  const s = v.summary;
  // The course by its name too, when its structure is imported.
  // (Without it, the key alone: the page stands on /api/learner.)
  const me = await fetch("/api/courses", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  const name = (me.names || {})[v.course_id];
  $("who").textContent = s.username + " in " + (name ? name + " (" + v.course_id + ")" : v.course_id);
  table("table-summary", [["username", "Username"], ["email", "Email"], ["enrollment_mode", "Mode"],
    ["enrolled", "Enrolled"], ["grade", "Grade %"], ["letter_grade", "Letter"], ["passed", "Passed"],
    ["last_seen", "Last seen (UTC)"]],
  [Object.assign({}, s, { enrolled: yes(s.enrolled), passed: yes(s.passed),
    grade: Math.round(s.percent_grade * 1000) / 10 })], false);
  Chart.defaults.scales.linear.ticks.precision = 0;
  // Every day of the range, those without activity (left out by the server) as zeros: the
  // gaps between visits, and since the last one, show.
  const got = new Map(v.days.map((d) => [d.day, d]));
  const days = periodStarts(v.from, v.to).day.map((day) => got.get(day) || { day, events: 0, time_spent: 0 });
  new Chart($("chart-days"), {
    type: "bar",
    data: { labels: days.map((d) => d.day), datasets: [
      { label: "Events", data: days.map((d) => d.events), backgroundColor: "#2680c2" },
      { label: "Minutes spent", data: days.map((d) => Math.round(d.time_spent / 6) / 10), backgroundColor: "#3ebd93" },
    ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false },
  });
  table("table-units", [["unit", "Unit"], ["components", "Components"], ["completed", "Completed"]], v.units);
  table("table-videos", [["video", "Video"], ["watched", "Watched", duration], ["covered", "Part seen", duration],
    ["duration", "Length", clock], ["share", "Part seen %"]], v.videos);
  table("table-problems", [["problem", "Problem"], ["submissions", "Submissions"], ["first", "Right first"],
    ["last", "Right last"], ["last_score", "Last score %"]],
  v.problems.map((p) => Object.assign({ first: yes(p.first_correct), last: yes(p.last_correct) }, p)));
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", () => start().catch((e) => { $("updated").textContent = "error: " + e.message; }));
