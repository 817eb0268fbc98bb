//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! scripts/test): sign in, open the course overview, see the charts drawn, see a new event
//! appear through the automatic refresh, and save a screenshot under target/e2e/.

mod common;

use std::time::Duration;

use common::{PASSWORD, dashboard, ready};

/// The weeks on the weekly engagement chart.
async fn weekly_labels(c: &fantoccini::Client) -> serde_json::Value {
    c.execute("return Chart.getChart('chart-weekly').data.labels", vec![])
        .await
        .unwrap()
}

/// Chooses the 7 days from `from` in the page's range inputs, and asserts that its
/// `chart-days` then shows those days.
async fn days_of_a_chosen_week(c: &fantoccini::Client, from: chrono::NaiveDate) {
    common::choose_range(c, from, from + chrono::Duration::days(6)).await;
    let labels = c
        .execute("return Chart.getChart('chart-days').data.labels", vec![])
        .await
        .unwrap();
    let want: Vec<String> = (0..7)
        .map(|i| (from + chrono::Duration::days(i)).to_string())
        .collect();
    assert_eq!(labels, serde_json::json!(want));
}

/// The active learners the weekly engagement chart shows for the week of `monday`.
async fn weekly_active(c: &fantoccini::Client, monday: &str) -> Option<u64> {
    c.execute(
        "const d = Chart.getChart('chart-weekly').data;
         const i = d.labels.indexOf(arguments[0]);
         return i < 0 ? null : d.datasets.find((s) => s.label == 'Active').data[i]",
        vec![serde_json::json!(monday)],
    )
    .await
    .unwrap()
    .as_u64()
}

/// Asserts that `text`, a time as the dashboard shows it (`42 s`, `8.1 min`, `40.4 h`,
/// `3.4 days`), is `seconds` in the unit that reads best, rounded as shown.
fn assert_duration(text: &str, seconds: f64) {
    let (number, unit) = text
        .split_once(' ')
        .unwrap_or_else(|| panic!("{text:?} is not a number and a unit"));
    let n: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number and a unit"));
    let (want, size, step) = match seconds {
        s if s < 120.0 => ("s", 1.0, 1.0),
        s if s < 7_200.0 => ("min", 60.0, 0.1),
        s if s < 172_800.0 => ("h", 3_600.0, 0.1),
        _ => ("days", 86_400.0, 0.1),
    };
    assert_eq!(unit, want, "{text:?} for {seconds} s");
    assert!(
        (n - seconds / size).abs() <= step / 2.0 + 1e-9,
        "{text:?} for {seconds} s"
    );
}

/// The seconds of `text`, a clock as the dashboard shows one (`m:ss`, `h:mm:ss`).
fn clock_seconds(text: &str) -> u64 {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |p: &str| p.parse::<u64>().unwrap_or_else(|_| panic!("{text:?}"));
    let two = |p: &str| {
        assert!(p.len() == 2 && number(p) < 60, "{text:?}");
        number(p)
    };
    match parts[..] {
        [m, s] => number(m) * 60 + two(s),
        [h, m, s] => number(h) * 3_600 + two(m) * 60 + two(s),
        _ => panic!("{text:?} is not a clock"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_and_see_the_course_overview_in_chromium() {
    let f = dashboard("serve_browser").await;
    let (_driver, c) = common::chromium().await;

    c.goto(&format!("{}/", f.base)).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    common::fill_sign_in(&c, "teach", PASSWORD).await;
    ready(&c).await;
    // Every chart is drawn: Chart.js keeps its instances.
    let n = c
        .execute("return Object.keys(Chart.instances).length", vec![])
        .await
        .unwrap();
    assert_eq!(n.as_u64(), Some(16), "charts drawn");
    // How far the learners got: the API's stages, in order, with their share of the enrolled.
    let funnel = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const d = Chart.getChart('chart-funnel').data;
             getJson('/api/funnel').then((f) => done({ f, labels: d.labels, data: d.datasets[0].data }))",
            vec![],
        )
        .await
        .unwrap();
    let stages = &funnel["f"];
    let keys = <cairn_report::Funnel as cairn_report::Columns>::COLUMNS;
    let counts: Vec<u64> = keys.iter().map(|k| stages[k].as_u64().unwrap()).collect();
    assert_eq!(funnel["data"], serde_json::json!(counts), "{funnel}");
    assert!(counts[0] > 0 && counts[5] < counts[0], "{funnel}");
    let share = (1000.0 * counts[6] as f64 / counts[0] as f64).round() / 10.0;
    let passed = format!("Passed ({share}%)");
    assert_eq!(funnel["labels"][0], "Enrolled (100%)", "{funnel}");
    assert_eq!(funnel["labels"][6], passed.as_str(), "{funnel}");
    // Retention: a row per cohort of the API, each week's share of its learners.
    let kept = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const rows = [...document.querySelectorAll('#table-retention tbody tr')]
               .map((tr) => [...tr.children].map((td) => td.textContent));
             const soFar = [...document.querySelectorAll('#table-retention tbody tr')]
               .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.classList.contains('so-far')));
             getJson('/api/retention').then((cells) => done({ cells, rows, soFar, monday: currentMonday() }))",
            vec![],
        )
        .await
        .unwrap();
    let cells: Vec<cairn_report::RetentionCell> =
        serde_json::from_value(kept["cells"].clone()).unwrap();
    let mut want: Vec<Vec<String>> = Vec::new();
    for k in &cells {
        if k.week == 0 {
            want.push(vec![k.cohort.clone(), k.enrolled.to_string()]);
        }
        // Tenths of a percent, half up (as the dashboard rounds).
        let tenths = (2000 * k.active + k.enrolled) / (2 * k.enrolled);
        let share = format!("{}.{}%", tenths / 10, tenths % 10);
        want.last_mut().unwrap().push(share);
    }
    assert!(!want.is_empty() && want[0].len() > 3, "{kept}");
    assert_eq!(kept["rows"], serde_json::json!(want), "{kept}");
    // The week under way (the dashboard's range ends today) is marked in each cohort that
    // reaches it, and no other week: the learners column (false), then the weeks.
    let monday =
        chrono::NaiveDate::parse_from_str(kept["monday"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let mut marks: Vec<Vec<bool>> = Vec::new();
    for k in &cells {
        let cohort = chrono::NaiveDate::parse_from_str(&k.cohort, "%Y-%m-%d").unwrap();
        if k.week == 0 {
            marks.push(vec![false]);
        }
        let week = cohort + chrono::Duration::weeks(i64::from(k.week));
        marks.last_mut().unwrap().push(week == monday);
    }
    assert!(marks.iter().any(|m| m.contains(&true)), "{kept}");
    assert_eq!(kept["soFar"], serde_json::json!(marks), "{kept}");
    // Age, country and mode draw the API's groups (ages in age order, as the API lists them).
    let demo = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const drawn = (id) => { const c = Chart.getChart(id);
                                     return [c.data.labels, c.data.datasets[0].data,
                                             c.scales.y.ticks.length]; };
             getJson('/api/overview').then((o) => done({ rows: o.demographics,
               age: drawn('chart-age'), country: drawn('chart-country'),
               enrollment_mode: drawn('chart-mode') }))",
            vec![],
        )
        .await
        .unwrap();
    for dim in ["age", "country", "enrollment_mode"] {
        let rows: Vec<&serde_json::Value> = demo["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["dimension"] == dim)
            .collect();
        assert!(rows.len() >= 2, "{dim}: {demo}");
        let labels: Vec<_> = rows.iter().map(|r| r["label"].clone()).collect();
        let learners: Vec<_> = rows.iter().map(|r| r["learners"].clone()).collect();
        // Every group is named on the axis (none skipped for room).
        let named = labels.len();
        assert_eq!(
            demo[dim],
            serde_json::json!([labels, learners, named]),
            "{dim}"
        );
    }
    let ages = demo["age"][0].as_array().unwrap();
    let order = cairn_report::AGE_BANDS;
    let at = |l: &serde_json::Value| order.iter().position(|o| l == o).unwrap_or(order.len());
    assert!(ages.windows(2).all(|w| at(&w[0]) < at(&w[1])), "{ages:?}");
    assert!(
        demo["country"][0]
            .as_array()
            .unwrap()
            .contains(&"France".into()),
        "countries by name: {demo}"
    );
    // When learners are active: the grid shows the API's learners per hour of the week (0
    // where it has none), in the zone chosen; the CSV link follows the zone.
    let mut grids = Vec::new();
    for zone in [None, Some("Calcutta")] {
        let shown = c
            .execute_async(
                "const [want, done] = [arguments[0], arguments[arguments.length - 1]];
                 const sel = $('hours-tz');
                 const a = document.querySelector('a.csv[data-export=\"hours\"]');
                 const grid = () => Array.from(document.querySelectorAll('#table-hours tbody tr'),
                   (r) => Array.from(r.cells).slice(1).map((td) => Number(td.textContent)));
                 const finish = () => getJson('/api/hours', { tz: sel.value }).then((rows) =>
                   done({ tz: sel.value, rows, grid: grid(), href: a.getAttribute('href') }));
                 if (!want) { finish(); return; }
                 sel.value = Array.from(sel.options).find((o) => o.value.includes(want)).value;
                 sel.dispatchEvent(new Event('change'));
                 const wait = () => ((a.getAttribute('href') || '').includes(encodeURIComponent(sel.value))
                   ? finish() : setTimeout(wait, 50));
                 wait();",
                vec![serde_json::json!(zone)],
            )
            .await
            .unwrap();
        let rows = shown["rows"].as_array().unwrap();
        assert!(rows.len() > 24, "{shown}");
        let mut expected = vec![vec![0u64; 24]; 7];
        for r in rows {
            let (d, h) = (r["weekday"].as_u64().unwrap(), r["hour"].as_u64().unwrap());
            expected[d as usize - 1][h as usize] = r["learners"].as_u64().unwrap();
        }
        assert_eq!(shown["grid"], serde_json::json!(expected), "{shown}");
        let tz = shown["tz"].as_str().unwrap();
        assert!(zone.is_none_or(|z| tz.contains(z)), "{tz}");
        let href = shown["href"].as_str().unwrap();
        let query = format!("tz={}", tz.replace('/', "%2F"));
        assert!(
            href.starts_with("/export/hours.csv?") && href.contains(&query),
            "{href}"
        );
        grids.push(shown["grid"].clone());
    }
    assert_ne!(grids[0], grids[1], "another zone, other hours");

    // Past 16 groups, a chart holds the 15 with the most and one bar for the rest.
    let cut = c
        .execute(
            "return capped(Array.from({ length: 20 }, (_, i) => ({ label: 'c' + i, learners: 20 - i })),
                           15, 'Country')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cut[0].as_array().unwrap().len(), 16, "{cut}");
    assert_eq!(
        cut[0][15],
        serde_json::json!({ "label": "5 others", "learners": 15 })
    );
    assert_eq!(
        cut[1],
        serde_json::json!("Country (the 15 with the most learners of 20)")
    );
    let courses = c
        .execute(
            "return Array.from(document.querySelectorAll('#course option')).map(o => [o.value, o.text])",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        courses,
        serde_json::json!([[f.courses[0], format!("Cairn Course 01 · {}", f.courses[0])]]),
        "only the user's course, by its name and key"
    );
    let units = c
        .execute(
            "return Chart.getChart('chart-progress').data.labels.length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(units.as_u64(), Some(8));
    let risk = c
        .execute(
            "return Array.from(document.querySelectorAll('#table-at-risk tbody tr')).map(r => r.textContent)",
            vec![],
        )
        .await
        .unwrap();
    let risk = risk.as_array().unwrap();
    assert!(!risk.is_empty(), "the at-risk list is shown");
    assert!(
        risk.iter()
            .all(|r| r.as_str().unwrap().contains("@example.org")),
        "learners with their emails: {risk:?}"
    );

    // A click on a column's title orders the rows by its values, a second the other way,
    // the order stays when the list is read again (the page's refresh), and each learner
    // keeps the link to their page.
    let progress_th = "//table[@id='table-at-risk']//th[.='Progress %']";
    let at_risk = |c: fantoccini::Client| async move {
        c.execute(
            "return Array.from(document.querySelectorAll('#table-at-risk tbody tr'),
                               (r) => [Number(r.cells[4].textContent), r.cells[0].querySelector('a') !== null])",
            vec![],
        )
        .await
        .unwrap()
    };
    let progress_of = |rows: &serde_json::Value| -> Vec<f64> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r[1], true, "the learner's link: {rows}");
                r[0].as_f64().unwrap()
            })
            .collect()
    };
    let before = progress_of(&at_risk(c.clone()).await);
    let count = c
        .execute(
            "return document.getElementById('at-risk-count').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        count,
        format!("{} learners.", before.len()),
        "the list's size"
    );
    let mut ascending = before.clone();
    ascending.sort_by(f64::total_cmp);
    let descending: Vec<f64> = ascending.iter().rev().copied().collect();
    assert_ne!(
        ascending, descending,
        "learners of different progress: {before:?}"
    );
    for want in [&ascending, &descending] {
        c.find(fantoccini::Locator::XPath(progress_th))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(&progress_of(&at_risk(c.clone()).await), want);
    }
    c.execute_async("loadAtRisk().then(arguments[arguments.length - 1])", vec![])
        .await
        .unwrap();
    assert_eq!(progress_of(&at_risk(c.clone()).await), descending);
    let sort = c
        .execute(
            "return document.evaluate(arguments[0], document, null, 9, null).singleNodeValue.getAttribute('aria-sort')",
            vec![serde_json::json!(progress_th)],
        )
        .await
        .unwrap();
    assert_eq!(sort, "descending");
    // Values sort as values: durations by their seconds, text with its numbers read as
    // numbers, rows without a value last either way.
    let sorted = c
        .execute(
            "const rows = [{ d: 7200, t: 'Unit 10' }, { d: 90, t: 'Unit 9' }, { d: null, t: '' }, { d: 600, t: 'Unit 2' }];
             const by = (key, dir) => sortRows(rows, key, dir).map((r) => r[key]);
             return [by('d', 'asc'), by('d', 'desc'), by('t', 'asc')]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        sorted,
        serde_json::json!([
            [90, 600, 7200, null],
            [7200, 600, 90, null],
            ["Unit 2", "Unit 9", "Unit 10", ""]
        ])
    );
    // Back to the server's order (the most inactive first) for what follows.
    c.execute_async(
        "delete document.getElementById('table-at-risk').dataset.sortKey;
         loadAtRisk().then(arguments[arguments.length - 1])",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(progress_of(&at_risk(c.clone()).await), before);

    // The roster: every enrolled learner of the course, as the API gives them (in the
    // units the page shows), each with the link to their page; found by name; and, past
    // its limit, the first rows with a button that shows them all.
    let roster = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             getJson('/api/learners').then((api) => done([api,
               Array.from(document.querySelectorAll('#table-learners tbody tr'),
                 (r) => [...Array.from(r.cells, (c) => c.textContent), r.cells[0].querySelector('a') !== null]),
               document.getElementById('learners-count').textContent]))",
            vec![],
        )
        .await
        .unwrap();
    let api = roster[0].as_array().unwrap();
    let shown = roster[1].as_array().unwrap();
    assert!(
        api.len() > 5 && api.len() <= f.spec.learners as usize,
        "the course's learners: {}",
        api.len()
    );
    assert_eq!(shown.len(), api.len(), "every learner is shown");
    assert_eq!(roster[2], format!("{} learners.", api.len()));
    for (l, row) in api.iter().zip(shown) {
        assert_eq!(row[0], l["username"], "{row}");
        assert_eq!(row[1], l["email"]);
        let last = l["last_seen"].as_str().unwrap();
        assert_eq!(row[4], if last.is_empty() { "never" } else { last });
        assert_eq!(row[5], l["active_days"].to_string());
        assert_duration(row[6].as_str().unwrap(), l["time_spent"].as_f64().unwrap());
        assert_eq!(
            row[7].as_str().unwrap().parse::<f64>().unwrap(),
            l["progress"].as_f64().unwrap()
        );
        let grade = row[8].as_str().unwrap().parse::<f64>().unwrap();
        assert!(
            (grade - 100.0 * l["percent_grade"].as_f64().unwrap()).abs() <= 0.05,
            "{row}"
        );
        assert_eq!(row[9], if l["passed"] == 1 { "yes" } else { "no" });
        assert_eq!(row[10], true, "the learner's link: {row}");
    }
    let who = api[api.len() / 2]["username"].as_str().unwrap().to_owned();
    let found = c
        .execute(
            "const find = document.getElementById('learners-find');
             find.value = arguments[0].toUpperCase();
             find.dispatchEvent(new Event('input'));
             return [Array.from(document.querySelectorAll('#table-learners tbody tr'), (r) => r.cells[0].textContent),
                     document.getElementById('learners-count').textContent]",
            vec![serde_json::json!(who)],
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        serde_json::json!([[who], format!("1 of {} learners.", api.len())])
    );
    let limited = c
        .execute(
            "const find = document.getElementById('learners-find');
             find.value = ''; find.dispatchEvent(new Event('input'));
             const rows = (id) => document.querySelectorAll('#' + id + ' tbody tr').length;
             table('table-learners', [['username', 'Username']], state.roster.rows, true, 5);
             const before = [rows('table-learners'), document.querySelector('#table-learners tfoot').textContent];
             document.querySelector('#table-learners tfoot button').click();
             return [before, rows('table-learners'), document.querySelector('#table-learners tfoot') === null];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        limited,
        serde_json::json!([
            [
                5,
                format!("The first 5 of {n}. Show all {n}", n = api.len())
            ],
            api.len(),
            true
        ])
    );

    // The forum's weeks and threads.
    let forum = c
        .execute(
            "return [Chart.getChart('chart-forums').data.labels.length,
                     document.querySelectorAll('#table-threads tbody tr').length]",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        forum[0].as_u64().unwrap() > 0 && forum[1].as_u64().unwrap() > 0,
        "{forum}"
    );
    // The comparison holds the viewer's course only.
    let compared = c
        .execute(
            "return Array.from(document.querySelectorAll('#table-compare tbody tr')).map(r => r.cells[0].textContent)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(compared, serde_json::json!(["Cairn Course 01"]));
    // Times read in their unit and lengths as clocks, each the server's seconds: the
    // videos' watch time, per viewer and length, the curve's seconds, the comparison's
    // median time spent.
    let shown = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const cells = (id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr'),
                                              (r) => Array.from(r.cells, (td) => td.textContent));
             Promise.all([getJson('/api/overview'), getJson('/api/video-curve', { video_id: state.video }),
                          fetch('/api/compare?sort=course').then((r) => r.json())])
               .then(([o, curve, compare]) => done({ videos: o.videos, video_cells: cells('table-videos'),
                 curve, curve_labels: Chart.getChart('chart-curve').data.labels,
                 compare, compare_cells: cells('table-compare') }))",
            vec![],
        )
        .await
        .unwrap();
    let videos = shown["videos"].as_array().unwrap();
    let cells = shown["video_cells"].as_array().unwrap();
    assert!(!videos.is_empty() && videos.len() == cells.len(), "{shown}");
    for (v, row) in videos.iter().zip(cells) {
        assert_eq!(row[1], v["viewers"].to_string(), "{row}");
        assert_duration(row[2].as_str().unwrap(), v["watch_time"].as_f64().unwrap());
        assert_duration(
            row[3].as_str().unwrap(),
            v["avg_watch_time"].as_f64().unwrap(),
        );
        assert_eq!(
            clock_seconds(row[4].as_str().unwrap()) as f64,
            v["duration"].as_f64().unwrap().round(),
            "{row}"
        );
    }
    let curve = shown["curve"].as_array().unwrap();
    let labels = shown["curve_labels"].as_array().unwrap();
    assert!(!curve.is_empty() && curve.len() == labels.len(), "{shown}");
    for (point, label) in curve.iter().zip(labels) {
        assert_eq!(
            clock_seconds(label.as_str().unwrap()),
            point["second"].as_u64().unwrap()
        );
    }
    let (compare, compare_cells) = (&shown["compare"][0], &shown["compare_cells"][0]);
    assert_duration(
        compare_cells[5].as_str().unwrap(),
        compare["median_time_spent"].as_f64().unwrap(),
    );
    // Subsections in course order, then problems, and the answers to the one picked.
    let subsections = c
        .execute(
            "return Chart.getChart('chart-navigation').data.labels",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(subsections.as_array().unwrap().len(), 8, "{subsections}");
    assert!(
        subsections.as_array().unwrap()[0]
            .as_str()
            .unwrap()
            .starts_with("Lesson: Unit 1")
    );
    // The median time to complete reads in its unit (s, min, h or days), right-aligned.
    let medians = c
        .execute(
            "return Array.from(document.querySelectorAll('#table-navigation tbody tr'),
                               (r) => [r.cells[5].textContent, r.cells[5].className])",
            vec![],
        )
        .await
        .unwrap();
    let medians = medians.as_array().unwrap();
    assert_eq!(
        medians.len(),
        12,
        "4 sections and their 8 subsections: {medians:?}"
    );
    for m in medians {
        let (text, class) = (m[0].as_str().unwrap(), m[1].as_str().unwrap());
        let (number, unit) = text.split_once(' ').unwrap_or(("", ""));
        assert!(
            number.parse::<f64>().is_ok() && ["s", "min", "h", "days"].contains(&unit),
            "{text:?}"
        );
        assert_eq!(class, "n", "{text:?}");
    }
    let problems = c
        .execute(
            "return [Chart.getChart('chart-problems').data.labels,
                     Array.from(document.querySelectorAll('#problem option')).map(o => o.value)]",
            vec![],
        )
        .await
        .unwrap();
    let (names, ids) = (
        problems[0].as_array().unwrap(),
        problems[1].as_array().unwrap(),
    );
    assert!(names.len() > 1 && names.len() == ids.len(), "{problems}");
    assert!(
        names
            .iter()
            .all(|n| n.as_str().unwrap().starts_with("Check: "))
    );
    let answers = |c: fantoccini::Client| async move {
        c.execute(
            "return Array.from(document.querySelectorAll('#table-answers tbody tr')).map(r => r.cells[1].textContent)",
            vec![],
        )
        .await
        .unwrap()
    };
    let first = answers(c.clone()).await;
    assert!(!first.as_array().unwrap().is_empty(), "answers are shown");
    // Each answer's input reads as its part of the problem, not as the LMS's id of it; an
    // input is named only in a part that has several.
    let parts = c
        .execute(
            "const all = ['0123abcd_2_1', '0123abcd_3_1', '0123abcd_3_2'];
             return [Array.from(document.querySelectorAll('#table-answers tbody tr'), (r) => r.cells[0].textContent),
                     inputLabel(all[2], all), inputLabel(all[0], all), inputLabel('free text', ['free text'])]",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        parts[0]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.as_str().unwrap() == "Part 1"),
        "{parts}"
    );
    assert_eq!(
        parts.as_array().unwrap()[1..],
        ["Part 2, input 2", "Part 1", "free text"]
    );
    c.execute(
        "document.getElementById('table-answers').replaceChildren();
         const s = document.getElementById('problem');
         s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
        vec![ids[1].clone()],
    )
    .await
    .unwrap();
    let mut second = serde_json::json!([]);
    for _ in 0..50 {
        second = answers(c.clone()).await;
        if !second.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !second.as_array().unwrap().is_empty() && second != first,
        "{first} / {second}"
    );
    let href = c
        .execute(
            "return document.querySelector('a.csv[data-export=\"answers\"]').href",
            vec![],
        )
        .await
        .unwrap();
    assert!(href.as_str().unwrap().contains("problem_id="), "{href}");
    // Many answers (a typed answer's spellings) and many learners at risk, as the API of a
    // large course gives them: the chart holds the 20 most given, the tables 100 rows and a
    // button for all. (getJson stands in for the API here, then is put back.)
    let many = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const api = getJson;
             getJson = async (path) => path === '/api/answers'
               ? Array.from({ length: 30 }, (_, i) => ({ input: 'x_2_1', answer: 'a' + i, value: 'a' + i, correct: -1,
                   learners: i, first_learners: i, last_learners: i, submissions: i }))
               : Array.from({ length: 150 }, (_, i) => ({ user_id: i + 1, username: 'u' + i, email: 'u' + i + '@x.org',
                   last_activity: '', days_inactive: i, progress: 0 }));
             Promise.all([loadAnswers(), loadAtRisk()]).finally(() => { getJson = api; }).then(() => {
               const chart = Chart.getChart('chart-answers');
               const rows = (id) => document.querySelectorAll('#' + id + ' tbody tr').length;
               done([chart.data.labels, chart.options.plugins.title.text, rows('table-answers'),
                     rows('table-at-risk'), document.querySelector('#table-at-risk tfoot').textContent]);
             });",
            vec![],
        )
        .await
        .unwrap();
    let top: Vec<String> = (10..30).map(|i| format!("a{i}")).collect();
    assert_eq!(
        many,
        serde_json::json!([
            top,
            "Answer distribution (the 20 most given of 30)",
            30,
            100,
            "The first 100 of 150. Show all 150"
        ])
    );
    c.execute_async(
        "Promise.all([loadAnswers(), loadAtRisk()]).then(arguments[arguments.length - 1])",
        vec![],
    )
    .await
    .unwrap();

    // The at-risk list leads to each learner's page.
    let href = c
        .execute(
            "return document.querySelector('#table-at-risk tbody tr a').href",
            vec![],
        )
        .await
        .unwrap();
    let href = href.as_str().unwrap().to_owned();
    assert!(
        href.contains("/learner?") && href.contains("user_id="),
        "{href}"
    );
    c.goto(&href).await.unwrap();
    ready(&c).await;
    let page = c
        .execute(
            "const days = Chart.getChart('chart-days').data;
             return [document.getElementById('who').textContent,
                     days.labels.length,
                     document.querySelectorAll('#table-units tbody tr').length,
                     days.datasets[0].data.filter((n) => n > 0).length,
                     days.datasets[0].data.slice(-6)]",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        page[0]
            .as_str()
            .unwrap()
            .ends_with(&format!(" in Cairn Course 01 ({})", f.courses[0])),
        "the learner, in the course by its name and key: {page}"
    );
    assert_eq!(page[2].as_u64(), Some(8), "{page}");
    // Every day of the range (the last 8 weeks), the days without activity as zeros: the
    // active ones, and the last 6 (after the fixture's events) empty.
    assert_eq!(page[1].as_u64(), Some(56), "{page}");
    assert!(page[3].as_u64().unwrap() > 0, "{page}");
    assert_eq!(page[4], serde_json::json!([0, 0, 0, 0, 0, 0]), "{page}");
    // Its videos' times read in their unit and their lengths as clocks, each the server's.
    let shown = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const q = new URLSearchParams(location.search);
             fetch('/api/learner?' + new URLSearchParams({ course_id: q.get('course_id'), user_id: q.get('user_id') }))
               .then((r) => r.json())
               .then((v) => done([v.videos, Array.from(document.querySelectorAll('#table-videos tbody tr'),
                                  (r) => Array.from(r.cells, (td) => td.textContent))]))",
            vec![],
        )
        .await
        .unwrap();
    let (videos, cells) = (shown[0].as_array().unwrap(), shown[1].as_array().unwrap());
    assert!(!videos.is_empty() && videos.len() == cells.len(), "{shown}");
    for (v, row) in videos.iter().zip(cells) {
        assert_duration(row[1].as_str().unwrap(), v["watched"].as_f64().unwrap());
        assert_duration(row[2].as_str().unwrap(), v["covered"].as_f64().unwrap());
        assert_eq!(
            clock_seconds(row[3].as_str().unwrap()) as f64,
            v["duration"].as_f64().unwrap().round(),
            "{row}"
        );
    }
    let png = c.screenshot().await.unwrap();
    let dir = cairn_core::testing::workspace_dir().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("learner.png"), &png).unwrap();
    // Its range inputs show the range in use; another range chosen there loads it.
    common::assert_default_range(&c).await;
    let monday = common::this_monday();
    days_of_a_chosen_week(&c, monday - chrono::Duration::weeks(3)).await;
    let url = c.current_url().await.unwrap();
    assert!(url.as_str().contains("user_id="), "{url}");
    c.goto(&format!("{}/", f.base)).await.unwrap();
    ready(&c).await;

    let monday = common::this_monday();
    // The range inputs show the default range, the last 8 ISO weeks (the last day inclusive).
    common::assert_default_range(&c).await;
    // Counts are drawn on whole-number axes.
    let ticks = c
        .execute(
            "return Chart.getChart('chart-grades').scales.y.ticks.map(t => t.value)",
            vec![],
        )
        .await
        .unwrap();
    let ticks = ticks.as_array().unwrap();
    assert!(ticks.len() > 1 && ticks.iter().all(|t| t.as_f64().unwrap().fract() == 0.0));

    // A new event appears without reloading (the page refreshes every 5 s): this week,
    // on the chart with no active learner (the fixture's events end 6 days ago), gets one.
    let this_week = monday.to_string();
    let weeks = weekly_labels(&c).await;
    assert_eq!(weeks.as_array().unwrap().len(), 8, "{weeks}");
    // The forum's weeks are the same, those without forum activity drawn as zeros.
    let forum = c
        .execute(
            "const d = Chart.getChart('chart-forums').data; return [d.labels, d.datasets[0].data]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forum[0], weeks, "{forum}");
    assert_eq!(forum[1][7], serde_json::json!(0), "{forum}");
    // This week, under way, is marked on the weekly charts (a line dashed into it, its bars
    // paler) and "so far" in the table; no other week is.
    let so_far = |c: fantoccini::Client| async move {
        c.execute(
            "const marked = (id) => {
               const d = Chart.getChart(id).data;
               return d.labels.map((_, i) => d.datasets.every((s) => s.segment
                 ? s.segment.borderDash({ p1DataIndex: i }) !== undefined
                 : s.backgroundColor[i] === s.backgroundColor[i === 0 ? 1 : 0] + '66'));
             };
             const titled = ['chart-weekly', 'chart-time', 'chart-forums']
               .map((id) => Chart.getChart(id).options.plugins.title.text.includes('this week so far'));
             return [Array.from(document.querySelectorAll('#table-weekly tbody tr'), (r) => r.cells[0].textContent),
                     marked('chart-weekly'), marked('chart-time'), marked('chart-forums'), titled]",
            vec![],
        )
        .await
        .unwrap()
    };
    let mut rows: Vec<String> = weeks
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    rows[7] = format!("{this_week} (so far)");
    let mut marked = vec![false; 8];
    marked[7] = true;
    assert_eq!(
        so_far(c.clone()).await,
        serde_json::json!([rows, marked, marked, marked, [true, true, true]])
    );
    assert_eq!(weekly_active(&c, &this_week).await, Some(0));
    f.ch.client()
        .query(&format!(
            "INSERT INTO {}._events (time, name, family, course_id, user_id, message) \
             SELECT now(), 'play_video', 'video', ?, 4242, 'e2e refresh'",
            cairn_core::sql::quote_ident(f.ch.database())
        ))
        .bind(f.courses[0].as_str())
        .execute()
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if weekly_active(&c, &this_week).await == Some(1) {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "the new event is counted through the automatic refresh"
    );

    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let dir = cairn_core::testing::workspace_dir().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("course-overview.png"), &png).unwrap();
    assert!(
        png.len() > 50_000,
        "a screenshot with charts, not a blank page"
    );

    // A range chosen in the inputs is applied with its last day included: from a Monday to
    // the next Monday shows the second week too.
    let week = monday - chrono::Duration::weeks(2);
    let next = week + chrono::Duration::weeks(1);
    let expected = vec![week.to_string(), next.to_string()];
    common::choose_range(&c, week, next).await;
    let weeks = weekly_labels(&c).await;
    assert_eq!(weeks, serde_json::json!(expected));
    // Past weeks only: none is "so far".
    assert_eq!(
        so_far(c.clone()).await,
        serde_json::json!([
            expected,
            [false, false],
            [false, false],
            [false, false],
            [false, false, false]
        ])
    );
    // A learner's page opened from the at-risk list shows the range chosen.
    let href = c
        .execute(
            "return document.querySelector('#table-at-risk tbody tr a').href",
            vec![],
        )
        .await
        .unwrap();
    let href = href.as_str().unwrap();
    assert!(
        href.contains(&format!("from={week}")) && href.contains(&format!("to={next}")),
        "{href}"
    );
    // The platform page: refused to course staff, shown to global staff.
    c.goto(&format!("{}/platform", f.base)).await.unwrap();
    ready(&c).await;
    let said = c
        .execute(
            "return document.getElementById('updated').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert!(said.as_str().unwrap().contains("global staff"), "{said}");
    c.delete_all_cookies().await.unwrap();
    c.goto(&format!("{}/login", f.base)).await.unwrap();
    common::fill_sign_in(&c, "boss", PASSWORD).await;
    ready(&c).await;
    c.goto(&format!("{}/platform", f.base)).await.unwrap();
    ready(&c).await;
    let page = c
        .execute(
            "const days = Chart.getChart('chart-days').data;
             return [document.querySelectorAll('#table-courses tbody tr').length,
                     days.labels.length,
                     document.querySelectorAll('#table-ingest tbody tr').length,
                     days.labels.every((d, i) => i == 0 || Date.parse(d) - Date.parse(days.labels[i - 1]) == 86400000),
                     Object.fromEntries(days.labels.map((d, i) => [d, days.datasets[0].data[i]])),
                     Math.max(...days.datasets[0].data),
                     Array.from(document.querySelectorAll('#table-periods tbody tr'),
                                (r) => r.cells[0].textContent).filter((p) => p == 'week').length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(page[0].as_u64(), Some(2), "{page}");
    assert!(page[2].as_u64().unwrap() > 0, "{page}");
    // Each source of the last 24 hours as the server names it, standard input by name.
    let sources = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/platform').then((r) => r.json()).then((p) => done([p.ingest.map((h) => h.path),
               Array.from(document.querySelectorAll('#table-ingest tbody tr'), (r) => r.cells[1].textContent)]))",
            vec![],
        )
        .await
        .unwrap();
    let want: Vec<&str> = sources[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p.as_str().unwrap() {
            "-" => "standard input",
            path => path,
        })
        .collect();
    assert_eq!(sources[1], serde_json::json!(want), "{sources}");
    let labels = c
        .execute(
            "return [sourceLabel('-'), sourceLabel('/var/log/tracking.log')]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        labels,
        serde_json::json!(["standard input", "/var/log/tracking.log"])
    );
    // The most active courses by name and key.
    let mut courses = c
        .execute(
            "return Array.from(document.querySelectorAll('#table-courses tbody tr'), (r) => r.cells[0].textContent)",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    courses.sort_by_key(|c| c.to_string());
    assert_eq!(
        courses,
        [
            format!("Cairn Course 01 · {}", f.courses[0]),
            format!("Cairn Course 02 · {}", f.courses[1])
        ]
    );
    // Every day of the default range (the last 8 weeks) evenly spaced, the days without
    // activity drawn as zeros (the fixture's events end 7 days ago; today has the event
    // added above); every week listed.
    assert_eq!(page[1].as_u64(), Some(56), "{page}");
    assert_eq!(page[3], serde_json::json!(true), "{page}");
    let today = chrono::Utc::now().date_naive();
    for ago in 0..7 {
        let day = (today - chrono::Duration::days(ago)).to_string();
        let want = u64::from(ago == 0);
        assert_eq!(page[4][&day].as_u64(), Some(want), "{day}: {page}");
    }
    assert!(page[5].as_u64().unwrap() > 0, "{page}");
    assert_eq!(page[6].as_u64(), Some(8), "{page}");
    // The range inputs show it; another range chosen there loads the page for it.
    common::assert_default_range(&c).await;
    days_of_a_chosen_week(&c, monday - chrono::Duration::weeks(2)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join("platform.png"), &png).unwrap();
    c.close().await.unwrap();
    f.drop_all().await;
}

/// The overview on a data lake without courses says why there is nothing to show, in
/// Chromium: to whoever may see every course, that the lake is empty and how to fill it;
/// to a user whose courses are not in it yet, just that; neither sees the empty sections.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_overview_says_why_in_chromium() {
    use cairn_acl::rights::Scope;
    use fantoccini::Locator;
    let lms = cairn_core::testing::mysql_openedx("serve_empty_lms").await;
    let mut config = cairn_core::testing::config();
    config.mysql = lms.clone();
    let ch = cairn_migrate::testing::data_lake_with("serve_empty", config).await;
    let hash = cairn_acl::logins::hash_password(PASSWORD).unwrap();
    let later = Scope::Some {
        orgs: Default::default(),
        courses: ["course-v1:CairnX+Later+2027".to_owned()].into(),
    };
    for (user, scope) in [("boss", Scope::All), ("newbie", later)] {
        cairn_acl::sync::record_grant(&ch, user, &format!("{user}@example.org"), &scope)
            .await
            .unwrap();
        cairn_acl::logins::record_login(&ch, user, &hash, true)
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = cairn_serve::App::new(
        ch.clone(),
        cairn_serve::RightsSource::Lms(lms.clone()),
        cairn_serve::Options::default(),
    );
    tokio::spawn(async move { axum::serve(listener, app.router()).await });
    let (_driver, c) = common::chromium().await;
    for (user, shown, hidden) in [
        ("boss", "empty-lake", "empty-yours"),
        ("newbie", "empty-yours", "empty-lake"),
    ] {
        c.goto(&format!("{base}/login")).await.unwrap();
        common::fill_sign_in(&c, user, PASSWORD).await;
        ready(&c).await;
        let visible = |id: &str| {
            let c = c.clone();
            let script =
                format!("const e = document.getElementById('{id}'); return e.checkVisibility();");
            async move { c.execute(&script, vec![]).await.unwrap() }
        };
        assert_eq!(visible(shown).await, true, "{user}: #{shown}");
        assert_eq!(visible(hidden).await, false, "{user}: #{hidden}");
        let text = c
            .find(Locator::Id(shown))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let expected = if user == "boss" {
            "The data lake holds no course yet"
        } else {
            "None of your courses is in the data lake yet"
        };
        assert!(text.starts_with(expected), "{user}: {text}");
        // No empty section, and no course picker with nothing in it.
        let sections = c
            .execute(
                "return [...document.querySelectorAll('main > section')].filter((s) => s.checkVisibility()).length",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(sections, 0, "{user}");
        assert_eq!(visible("course").await, false, "{user}: the course picker");
        if user == "boss" {
            // The platform page of an empty lake: no newest event, no lag, never ingested,
            // and its lists say they are empty.
            c.goto(&format!("{base}/platform")).await.unwrap();
            ready(&c).await;
            let shown = c
                .execute(
                    "const cells = (sel) => Array.from(document.querySelectorAll(sel), (e) => e.textContent);
                     return [cells('#table-freshness tbody td'), cells('#table-courses tbody tr'),
                             cells('#table-courses tfoot td'), cells('#table-ingest tfoot td')];",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(
                shown,
                serde_json::json!([["none yet", "", "never"], [], ["None."], ["None."]])
            );
        }
        c.delete_all_cookies().await.unwrap();
    }
    c.close().await.unwrap();
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    cairn_core::mysql::mysql_async::prelude::Queryable::query_drop(
        &mut conn,
        format!("DROP DATABASE `{}`", lms.database),
    )
    .await
    .unwrap();
    ch.drop_database().await.unwrap();
}
