// Cairn dashboard: fetches the course metrics from the server (which checks every request
// against the viewer's rights) and draws them with Chart.js. Text goes in with
// textContent only.
"use strict";

const charts = {};
const state = { course: null, video: null, problem: null, loads: 0, range: null };
const palette = ["#2680c2", "#e12d39", "#3ebd93", "#f0b429", "#8662c7", "#f35627", "#0fb5ba", "#9aa5b1"];

// The range inputs show the range in use; they are sent only once the viewer sets them
// (until then the server's default, the last 8 weeks, follows the calendar). "To" is the
// last day shown, inclusive.
function params(extra) {
  const p = new URLSearchParams({ course_id: state.course });
  if ($("from").value && !$("from").dataset.auto) p.set("from", $("from").value);
  if ($("to").value && !$("to").dataset.auto) p.set("to", $("to").value);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p;
}

function showRange(o) {
  for (const [id, day] of [["from", o.from], ["to", o.to]]) {
    const input = $(id);
    if (!input.value || input.dataset.auto) { input.value = day; input.dataset.auto = "1"; }
  }
}

async function getJson(path, extra) {
  const r = await fetch(path + "?" + params(extra), { credentials: "same-origin" });
  if (r.status === 401) { window.location = "/login"; throw new Error("signed out"); }
  const body = await r.json();
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), { status: r.status });
  return body;
}

function draw(id, type, labels, datasets, options) {
  const data = { labels, datasets: datasets.map((d, i) => Object.assign({
    backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length],
  }, d)) };
  const opts = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: "bottom" } } }, options || {});
  if (charts[id]) {
    // Options too: a title can change with the data (the week under way, a capped chart).
    charts[id].data = data;
    charts[id].options = opts;
    charts[id].update("none");
    return;
  }
  charts[id] = new Chart($(id), { type, data, options: opts });
}

const minutes = (s) => Math.round(s / 6) / 10;

// Groups of learners (`{ label, learners }`, most first) for a chart: the first `n`, and
// the rest summed in one bar when that leaves out more than one; with the chart's title.
function capped(rows, n, title) {
  if (rows.length <= n + 1) return [rows, title];
  const rest = rows.slice(n).reduce((a, d) => a + d.learners, 0);
  return [rows.slice(0, n).concat([{ label: `${rows.length - n} others`, learners: rest }]),
    `${title} (the ${n} with the most learners of ${rows.length})`];
}

// This ISO week's Monday (UTC): the week under way, whose numbers are so far.
function currentMonday() {
  const d = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

// Options marking the week under way (index `partial` of `labels`; its numbers are so
// far) on the dataset drawn in palette color `k`: a line dashed into it, a bar paler.
function underWay(partial, labels, k, line) {
  if (line) return { segment: { borderDash: (ctx) => (ctx.p1DataIndex === partial ? [6, 4] : undefined) } };
  const color = palette[k % palette.length];
  return { backgroundColor: labels.map((_, i) => (i === partial ? color + "66" : color)) };
}

// A weekly chart's title, saying how the week under way is drawn when it is shown.
const weeklyTitle = (text, partial, how) => (partial < 0 ? text : text + " (" + how + ": this week so far)");

function render(o) {
  const weeks = o.weekly.map((w) => w.week);
  // The week under way, if shown, is marked on the charts and "so far" in the table.
  const partial = weeks.indexOf(currentMonday());
  draw("chart-weekly", "line", weeks, [
    { label: "Enrolled", data: o.weekly.map((w) => w.enrolled) },
    { label: "Active", data: o.weekly.map((w) => w.active) },
    { label: "Watched a video", data: o.weekly.map((w) => w.watched_video) },
    { label: "Tried a problem", data: o.weekly.map((w) => w.tried_problem) },
  ].map((d, k) => ({ ...d, ...underWay(partial, weeks, k, true) })),
  { plugins: { title: { display: true, text: weeklyTitle("Learners per week", partial, "dashed") } } });
  draw("chart-time", "bar", weeks, [
    { label: "Average minutes per active learner", data: o.weekly.map((w) => minutes(w.avg_time_spent)),
      ...underWay(partial, weeks, 0, false) },
  ], { plugins: { title: { display: true, text: weeklyTitle("Time spent", partial, "pale") } } });
  table("table-weekly", [["week", "Week", (w) => (w === weeks[partial] ? w + " (so far)" : w)],
    ["enrolled", "Enrolled"], ["active", "Active"],
    ["watched_video", "Watched video"], ["tried_problem", "Tried problem"],
    ["hours", "Time spent (h)"], ["avg_minutes", "Avg. minutes"]],
  o.weekly.map((w) => Object.assign({ hours: Math.round(w.time_spent / 360) / 10,
    avg_minutes: minutes(w.avg_time_spent) }, w)));

  draw("chart-progress", "bar", o.progress.map((u) => u.unit), [
    { label: "Learners who completed the unit", data: o.progress.map((u) => u.completed) },
  ], { indexAxis: "y", plugins: { title: { display: true, text: "Completion per unit (course order)" } } });
  draw("chart-grades", "bar", o.grades.map((g) => g.from_percent + "–" + g.to_percent + "%"), [
    { label: "Learners", data: o.grades.map((g) => g.learners) },
    { label: "Passed", data: o.grades.map((g) => g.passed) },
  ], { plugins: { title: { display: true, text: "Grade distribution" } } });
  const graded = o.grades.reduce((a, g) => a + g.learners, 0);
  const passed = o.grades.reduce((a, g) => a + g.passed, 0);
  $("passed").textContent = passed + " of " + graded + " graded learners passed" +
    (o.lms_as_of ? " · progress, grades and enrollments as of " + o.lms_as_of + " UTC (the LMS copy)" : "");

  for (const [dim, id, title] of [["gender", "chart-gender", "Gender"],
    ["level_of_education", "chart-education", "Level of education"], ["age", "chart-age", "Age"],
    ["country", "chart-country", "Country"], ["enrollment_mode", "chart-mode", "Enrollment mode"]]) {
    // A MOOC's learners come from up to 200 countries: the chart holds the 15 with the
    // most, the rest in one bar; the CSV has them all.
    const [rows, text] = capped(o.demographics.filter((d) => d.dimension === dim), 15, title);
    draw(id, "bar", rows.map((d) => d.label), [{ label: "Enrolled learners", data: rows.map((d) => d.learners),
      maxBarThickness: 32 }],
      { indexAxis: "y", plugins: { title: { display: true, text }, legend: { display: false } },
        // Every group named (none skipped); a long name is cut on the axis, the tooltip
        // shows it whole.
        scales: { y: { ticks: { autoSkip: false, callback(v) { const l = this.getLabelForValue(v);
          return l.length > 32 ? l.slice(0, 31) + "…" : l; } } } } });
  }

  table("table-videos", [["video", "Video"], ["viewers", "Unique viewers"], ["watch_time", "Watched", duration],
    ["avg_watch_time", "Per viewer", duration], ["duration", "Length", clock]], o.videos);
  const sel = $("video");
  const keep = state.video;
  sel.replaceChildren(...o.videos.map((v) => new Option(v.video, v.video_id)));
  state.video = o.videos.some((v) => v.video_id === keep) ? keep : (o.videos[0] || {}).video_id || null;
  if (state.video) sel.value = state.video;
}

async function loadCurve() {
  if (!state.video) { draw("chart-curve", "line", [], []); return; }
  const rows = await getJson("/api/video-curve", { video_id: state.video });
  draw("chart-curve", "line", rows.map((r) => clock(r.second)), [
    { label: "Unique viewers", data: rows.map((r) => r.viewers), pointRadius: 0 },
    { label: "Views", data: rows.map((r) => r.views), pointRadius: 0 },
  ], { scales: { x: { title: { display: true, text: "time in the video (m:ss)" } } } });
}

async function loadNavigation() {
  const rows = await getJson("/api/navigation");
  const subs = rows.filter((r) => r.level === "subsection");
  draw("chart-navigation", "bar", subs.map((r) => r.subsection), [
    { label: "Learners who visited", data: subs.map((r) => r.learners) },
    { label: "Learners who completed it", data: subs.map((r) => r.completed) },
  ], { plugins: { title: { display: true, text: "Subsections (course order)" } } });
  // In course order, each section before its subsections (so not sortable). The median
  // time runs from the first visit to the last component completed: a section's spans its
  // subsections, often days.
  table("table-navigation", [["name", "Section / subsection"], ["learners", "Learners"], ["visits", "Visits"],
    ["components", "Components"], ["completed", "Completed"],
    ["median_seconds", "Median time to complete", (v, r) => (r.completed > 0 ? duration(v) : "")]],
  rows.map((r) => ({ ...r, name: r.level === "section" ? r.section : "\u2003" + r.subsection })), false);
}

async function loadForums() {
  const f = await getJson("/api/forums");
  // Every week of the range in use: the server leaves out weeks without forum activity,
  // drawn here as zeros.
  const got = new Map(f.weeks.map((w) => [w.week, w]));
  const zero = { threads: 0, responses: 0, comments: 0, votes: 0, posters: 0 };
  const weeks = periodStarts(...state.range).week
    .map((week) => got.get(week) || Object.assign({ week }, zero));
  const labels = weeks.map((w) => w.week);
  const partial = labels.indexOf(currentMonday());
  draw("chart-forums", "bar", labels, [
    { label: "Threads", data: weeks.map((w) => w.threads) },
    { label: "Responses", data: weeks.map((w) => w.responses) },
    { label: "Comments", data: weeks.map((w) => w.comments) },
    { label: "Votes", data: weeks.map((w) => w.votes) },
    { label: "Learners who posted", data: weeks.map((w) => w.posters), type: "line" },
  ].map((d, k) => ({ ...d, ...underWay(partial, labels, k, d.type === "line") })),
  { plugins: { title: { display: true, text: weeklyTitle("Forum per week", partial, "pale, dashed") } } });
  table("table-threads", [["title", "Thread"], ["responses", "Responses"], ["comments", "Comments"],
    ["votes", "Votes"], ["learners", "Learners"]], f.threads);
}

// How far the enrolled learners got, stage by stage, each with its share of the enrolled.
async function loadFunnel() {
  const f = await getJson("/api/funnel");
  const stages = [["Enrolled", f.enrolled], ["Seen in the course", f.started],
    ["Active in the range", f.active], ["A component done", f.progressed],
    ["Half of them done", f.halfway], ["All of them done", f.completed], ["Passed", f.passed]];
  const share = (n) => (f.enrolled ? Math.round(1000 * n / f.enrolled) / 10 : 0);
  draw("chart-funnel", "bar", stages.map(([s, n]) => `${s} (${share(n)}%)`),
    [{ label: "Learners", data: stages.map(([, n]) => n), maxBarThickness: 32 }],
    { indexAxis: "y", plugins: { title: { display: true, text: "How far the enrolled learners got" },
      legend: { display: false } }, scales: { y: { ticks: { autoSkip: false } } } });
}

// The viewer's time zone (the browser's), else UTC.
function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (_) { return "UTC"; }
}

// Retention by enrollment cohort: a cohort per row (the week its learners enrolled, how
// many), then per week since, the share of them engaged that week, shaded by that share.
async function loadRetention() {
  const cells = await getJson("/api/retention");
  const weeks = Math.max(0, ...cells.map((c) => c.week + 1));
  const cell = (tag, text) => { const c = document.createElement(tag); c.textContent = text; return c; };
  const head = document.createElement("tr");
  head.append(cell("th", "Enrolled in the week of"), cell("th", "Learners"),
    ...Array.from({ length: weeks }, (_, w) => cell("th", `Week ${w}`)));
  const rows = [];
  for (const c of cells) {
    if (c.week === 0) {
      const tr = document.createElement("tr");
      tr.append(cell("th", c.cohort), cell("td", String(c.enrolled)));
      rows.push(tr);
    }
    const tr = rows[rows.length - 1];
    if (!tr) continue;
    const share = c.enrolled ? c.active / c.enrolled : 0;
    // Tenths of a percent, half up, from the integers (as the CLI's table).
    const tenths = c.enrolled ? Math.round((1000 * c.active) / c.enrolled) : 0;
    const td = cell("td", `${(tenths / 10).toFixed(1)}%`);
    td.title = `Enrolled in the week of ${c.cohort}: ${c.active} of ${c.enrolled} engaged in week ${c.week}`;
    // The week under way: its share is so far (dashed, and said in the cell's title).
    const monday = new Date(c.cohort + "T00:00:00Z");
    monday.setUTCDate(monday.getUTCDate() + 7 * c.week);
    if (monday.toISOString().slice(0, 10) === currentMonday()) {
      td.classList.add("so-far");
      td.title += " (this week so far)";
    }
    td.style.backgroundColor = `rgba(38, 128, 194, ${share.toFixed(2)})`;
    if (share > 0.55) td.style.color = "#fff";
    tr.append(td);
  }
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  tbody.append(...rows);
  $("table-retention").replaceChildren(thead, tbody);
}

// The hours of the week as a grid: a day per row, an hour per column, each cell's learners
// (0 where the server has no row) shaded against the busiest hour.
async function loadHours() {
  const rows = await getJson("/api/hours", { tz: $("hours-tz").value || "UTC" });
  const got = new Map(rows.map((r) => [r.weekday * 100 + r.hour, r.learners]));
  const max = Math.max(1, ...rows.map((r) => r.learners));
  const cell = (tag, text) => { const c = document.createElement(tag); c.textContent = text; return c; };
  const head = document.createElement("tr");
  head.append(cell("th", ""), ...Array.from({ length: 24 }, (_, h) => cell("th", String(h))));
  const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map((day, d) => {
    const tr = document.createElement("tr");
    tr.append(cell("th", day));
    for (let h = 0; h < 24; h++) {
      const n = got.get((d + 1) * 100 + h) || 0;
      const td = cell("td", String(n));
      td.title = `${day} ${h}:00–${h + 1}:00: ${n} learner${n === 1 ? "" : "s"}`;
      td.style.backgroundColor = `rgba(38, 128, 194, ${(n / max).toFixed(2)})`;
      if (n / max > 0.55) td.style.color = "#fff";
      tr.append(td);
    }
    return tr;
  });
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  tbody.append(...days);
  $("table-hours").replaceChildren(thead, tbody);
}

async function loadProblems() {
  const rows = await getJson("/api/problems");
  draw("chart-problems", "bar", rows.map((p) => p.problem), [
    { label: "% right at the first submission", data: rows.map((p) => p.first_correct) },
    { label: "% right at the last", data: rows.map((p) => p.last_correct) },
  ], { plugins: { title: { display: true, text: "Problems (course order)" } },
    scales: { y: { min: 0, max: 100 } } });
  table("table-problems", [["problem", "Problem"], ["learners", "Learners"], ["submissions", "Submissions"],
    ["submissions_per_learner", "Per learner"], ["first_correct", "Right first %"],
    ["last_correct", "Right last %"], ["avg_score", "Mean score %"], ["hints", "Hints shown"],
    ["answers_shown", "Answers shown"]], rows);
  const sel = $("problem");
  const keep = state.problem;
  sel.replaceChildren(...rows.map((p) => new Option(p.problem, p.problem_id)));
  state.problem = rows.some((p) => p.problem_id === keep) ? keep : (rows[0] || {}).problem_id || null;
  if (state.problem) sel.value = state.problem;
  await loadAnswers();
}

// Where an input sits in its problem, from the id the LMS gives it (`<block>_<part + 1>_<n>`):
// "Part 2", or "Part 2, input 3" when part 2 has more than one input among `inputs`; any
// other id as it is.
function inputLabel(input, inputs) {
  const m = /_(\d+)_(\d+)$/.exec(input);
  if (!m) return input;
  const part = "Part " + (Number(m[1]) - 1);
  const prefix = input.slice(0, input.length - m[2].length);
  const several = inputs.some((other) => other !== input && other.startsWith(prefix) && /^\d+$/.test(other.slice(prefix.length)));
  return several ? part + ", input " + m[2] : part;
}

async function loadAnswers() {
  const rows = state.problem ? await getJson("/api/answers", { problem_id: state.problem }) : [];
  const right = (a) => (a.correct === 1 ? "yes" : a.correct === 0 ? "no" : "");
  const inputs = [...new Set(rows.map((a) => a.input))];
  const label = (a) => (inputs.length > 1 ? inputLabel(a.input, inputs) + ": " : "") + a.answer;
  // The chart holds the 20 answers the most learners gave (in the table's order); a typed
  // answer can have hundreds of spellings, which the table lists.
  const most = new Set([...rows].sort((x, y) => y.learners - x.learners).slice(0, 20));
  const charted = rows.filter((a) => most.has(a));
  const title = "Answer distribution" + (charted.length < rows.length ? ` (the ${charted.length} most given of ${rows.length})` : "");
  draw("chart-answers", "bar", charted.map(label), [
    { label: "Learners, first submission", data: charted.map((a) => a.first_learners) },
    { label: "Learners, last submission", data: charted.map((a) => a.last_learners) },
  ], { indexAxis: "y", plugins: { title: { display: true, text: title } } });
  table("table-answers", [["input", "Part", (input) => inputLabel(input, inputs)], ["answer", "Answer"],
    ["right", "Right"], ["learners", "Learners"], ["first_learners", "First"], ["last_learners", "Last"],
    ["submissions", "Submissions"]], rows.map((a) => ({ ...a, right: right(a) })), true, 100);
}

async function loadCompare() {
  const p = new URLSearchParams({ sort: $("compare-sort").value });
  if ($("from").value && !$("from").dataset.auto) p.set("from", $("from").value);
  if ($("to").value && !$("to").dataset.auto) p.set("to", $("to").value);
  const r = await fetch("/api/compare?" + p, { credentials: "same-origin" });
  const rows = await r.json();
  if (!r.ok) throw new Error(rows.error || r.statusText);
  draw("chart-compare", "bar", rows.map((c) => c.name), [
    { label: "Average progress %", data: rows.map((c) => c.avg_progress) },
    { label: "Pass rate %", data: rows.map((c) => c.pass_rate) },
  ], { plugins: { title: { display: true, text: "Courses" } }, scales: { y: { min: 0, max: 100 } } });
  table("table-compare", [["name", "Course"], ["enrolled", "Enrolled"], ["active_7d", "Active (7 days)"],
    ["avg_progress", "Avg. progress %"], ["pass_rate", "Pass rate %"], ["median_time_spent", "Median time spent", duration]],
  rows);
  $("compare-csv").href = "/export/compare.csv?" + p;
}

// A learner's own page, from their username, for the range chosen here if one was.
function learnerLink(username, r) {
  const a = document.createElement("a");
  a.textContent = username;
  a.href = "/learner?" + params({ user_id: String(r.user_id) });
  return a;
}

// The roster: fetched with the page, then again when the course or range changes, or
// every 5 minutes (it may hold tens of thousands of learners); found and sorted here.
async function loadLearners() {
  if (document.body.dataset.identities !== "yes") {
    $("learners-csv").hidden = true;
    $("learners-find").parentElement.hidden = true;
    table("table-learners", [["note", ""]], [{ note: "Learner identities are not shown to your account." }]);
    return;
  }
  const key = [state.course, $("from").value, $("to").value].join("|");
  if (state.roster && state.roster.key === key && Date.now() - state.roster.at < 300000) return showLearners();
  const rows = await getJson("/api/learners");
  if (!state.roster || state.roster.key !== key) delete $("table-learners").dataset.all;
  state.roster = { key, at: Date.now(), rows };
  showLearners();
}

function showLearners() {
  const all = state.roster ? state.roster.rows : [];
  const find = $("learners-find").value.trim().toLowerCase();
  const rows = find ? all.filter((l) => l.username.toLowerCase().includes(find) || l.email.toLowerCase().includes(find)) : all;
  table("table-learners", [["username", "Username", learnerLink], ["email", "Email"], ["enrollment_mode", "Mode"],
    ["enrolled_on", "Enrolled"], ["last_seen", "Last seen (UTC)", (v) => v || "never"], ["active_days", "Active days"],
    ["time_spent", "Time spent", duration], ["progress", "Progress %"],
    ["percent_grade", "Grade %", (v) => Math.round(v * 1000) / 10], ["passed", "Passed", (v) => (v ? "yes" : "no")]],
  rows, true, 100);
  $("learners-count").textContent = (find ? rows.length + " of " : "") + (all.length === 1 ? "1 learner." : all.length + " learners.");
}

async function loadAtRisk() {
  if (document.body.dataset.identities !== "yes") {
    $("at-risk-csv").hidden = true;
    table("table-at-risk", [["note", ""]], [{ note: "Learner identities are not shown to your account." }]);
    return;
  }
  const rows = await getJson("/api/at-risk", { days: $("days").value || "7" });
  table("table-at-risk", [["username", "Username", learnerLink], ["email", "Email"], ["last_activity", "Last activity (UTC)"],
    ["days_inactive", "Days inactive"], ["progress", "Progress %"]], rows, true, 100);
  $("at-risk-count").textContent = rows.length === 1 ? "1 learner." : rows.length + " learners.";
}

async function load() {
  if (!state.course) return;
  // A newer load (another course or range, chosen meanwhile) supersedes this one: an
  // older answer arriving last must not show old numbers, nor say the page is ready.
  const gen = ++state.loads;
  const o = await getJson("/api/overview");
  if (gen !== state.loads) return;
  showRange(o);
  state.range = [o.from, o.to];
  render(o);
  await Promise.all([loadCurve(), loadHours(), loadRetention(), loadFunnel(), loadNavigation(), loadForums(), loadProblems(), loadCompare(),
    loadAtRisk(), loadLearners()]);
  if (gen !== state.loads) return;
  for (const a of document.querySelectorAll("a.csv")) {
    const extra = a.dataset.export === "video-curve" && state.video ? { video_id: state.video } : {};
    if (a.dataset.export === "answers" && state.problem) extra.problem_id = state.problem;
    if (a.dataset.export === "at-risk") extra.days = $("days").value || "7";
    if (a.dataset.export === "hours") extra.tz = $("hours-tz").value || "UTC";
    a.href = "/export/" + a.dataset.export + ".csv?" + params(extra);
  }
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.ready = "1";
}

function report(e) {
  $("updated").textContent = "error: " + e.message;
}

async function start() {
  Chart.defaults.scales.linear.ticks.precision = 0; // counts: whole numbers on the axes
  const me = await (await fetch("/api/courses", { credentials: "same-origin" })).json();
  const sel = $("course");
  // Each course by its name and key (the key alone when its structure is not imported).
  sel.replaceChildren(...me.courses.map((c) => new Option(me.names[c] ? me.names[c] + " · " + c : c, c)));
  if (!me.courses.length) {
    // Say why, and leave out the course's sections and pickers: they would stay empty.
    $(me.empty === "lake" ? "empty-lake" : "empty-yours").hidden = false;
    for (const s of document.querySelectorAll("main > section")) s.hidden = true;
    for (const id of ["course", "from", "to"]) $(id).parentElement.hidden = true;
    document.body.dataset.ready = "1";
    return;
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  state.course = me.courses.includes(wanted) ? wanted : me.courses[0];
  sel.value = state.course;
  sel.addEventListener("change", () => { state.course = sel.value; location.hash = sel.value; state.video = null; state.problem = null; load().catch(report); });
  $("video").addEventListener("change", () => { state.video = $("video").value; loadCurve().catch(report); });
  for (const id of ["from", "to"]) {
    $(id).addEventListener("change", () => {
      delete $("from").dataset.auto; delete $("to").dataset.auto;
      load().catch(report);
    });
  }
  $("problem").addEventListener("change", () => {
    state.problem = $("problem").value;
    loadAnswers().then(() => {
      const a = document.querySelector('a.csv[data-export="answers"]');
      a.href = "/export/answers.csv?" + params({ problem_id: state.problem });
    }).catch(report);
  });
  $("days").addEventListener("change", () => loadAtRisk().catch(report));
  // The hours of the week in the browser's time zone first, UTC next, then every zone.
  const zones = [browserZone(), "UTC", ...(Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [])];
  $("hours-tz").replaceChildren(...[...new Set(zones)].map((z) => new Option(z, z)));
  $("hours-tz").addEventListener("change", () => {
    loadHours().then(() => {
      const a = document.querySelector('a.csv[data-export="hours"]');
      a.href = "/export/hours.csv?" + params({ tz: $("hours-tz").value });
    }).catch(report);
  });
  $("learners-find").addEventListener("input", showLearners);
  $("compare-sort").addEventListener("change", () => loadCompare().catch(report));
  await load();
  const every = Math.max(5, Number(document.body.dataset.refresh) || 30) * 1000;
  setInterval(() => { if (!document.hidden) load().catch(report); }, every);
}

document.addEventListener("DOMContentLoaded", () => start().catch(report));
