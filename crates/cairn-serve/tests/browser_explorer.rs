//! The SQL explorer and dashboards in headless Chromium: write a query, run it with
//! Ctrl-Enter, build a bar chart, save it, put it on a new dashboard shared with another
//! user, who opens it and sees their own rows; and ClickHouse's error shown as it is.
//! Course staff run their own queries on a ClickHouse 26.9 server of the test's own (the
//! users `cairn acl sync --users-xml` writes); on ClickHouse 18.16 the same steps by an
//! admin, and the other user is told that the explorer is for admins only there.

mod common;

use std::time::Duration;

use common::{PASSWORD, run_in_explorer};
use fantoccini::Locator;

async fn js(c: &fantoccini::Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}

async fn wait_for(c: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn sign_in(c: &fantoccini::Client, base: &str, user: &str, path: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    common::fill_sign_in(c, user, PASSWORD).await;
    wait_for(c, "body[data-ready='1']").await;
    c.goto(&format!("{base}{path}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn query_chart_dashboard_share_and_errors_in_chromium() {
    let suite = cairn_core::testing::clickhouse("browser_explorer_gate").await;
    let modern = suite.version().at_least(23, 8);
    suite.drop_database().await.unwrap();
    // On 26.9 course staff (teach, then inst); on 18.16 the admin, then teach.
    let (own, f) = if modern {
        let (own, f) = common::explorer_dashboard("browser_explorer", 30).await;
        (Some(own), f)
    } else {
        (None, common::dashboard("browser_explorer").await)
    };
    let (author, viewer) = if modern {
        ("teach", "inst")
    } else {
        ("boss", "teach")
    };
    let (_d1, c) = common::chromium().await;
    sign_in(&c, &f.base, author, "/explore").await;
    wait_for(&c, ".cm-content").await;
    wait_for(&c, "#tables li.table[data-table='events']").await;
    assert_eq!(
        js(
            &c,
            "return getComputedStyle(document.querySelector('.cm-gutters')).display"
        )
        .await,
        "flex",
        "the editor's own styles pass the page's Content-Security-Policy (nonce)"
    );

    // The parameters start as the dashboards' do: the author's first course (the others
    // offered as they type) and the last 8 ISO weeks; a query naming them reads them.
    wait_for(&c, "#param-courses option").await;
    let params = js(
        &c,
        "return [document.getElementById('param-course_id').value,
                 Array.from(document.querySelectorAll('#param-courses option'), (o) => o.value),
                 document.getElementById('param-from').value, document.getElementById('param-to').value]",
    )
    .await;
    let monday = common::this_monday();
    let (from, to) = (
        (monday - chrono::Duration::weeks(7)).to_string(),
        (monday + chrono::Duration::days(6)).to_string(),
    );
    let seen: Vec<&str> = if modern {
        vec![&f.courses[0]]
    } else {
        f.courses.iter().map(String::as_str).collect()
    };
    assert_eq!(params, serde_json::json!([seen[0], seen, from, to]));
    if modern {
        run_in_explorer(
            &c,
            "SELECT count() AS n FROM events WHERE course_id = {course_id:String} \
             AND toDate(time) BETWEEN {from:Date} AND {to:Date}",
        )
        .await;
        wait_for(&c, "#result tr + tr").await;
        let shown = js(
            &c,
            "const n = document.querySelector('#result tr + tr').cells[0].textContent;
             document.getElementById('result').replaceChildren();
             return n",
        )
        .await;
        let want: u64 = f
            .ch
            .client()
            .query(
                "SELECT count() FROM events WHERE course_id = ? AND toDate(time) BETWEEN ? AND ?",
            )
            .bind(&f.courses[0])
            .bind(&from)
            .bind(&to)
            .fetch_one()
            .await
            .unwrap();
        assert!(want > 0, "the course has events in the range");
        assert_eq!(
            shown,
            want.to_string(),
            "the query read the parameters shown"
        );
    }

    // ClickHouse's own message, as it is.
    run_in_explorer(&c, "SELECT nope FROM events").await;
    let error = wait_for(&c, "#error:not([hidden])").await;
    let text = error.text().await.unwrap();
    assert!(text.contains("Code: 47") && text.contains("nope"), "{text}");

    // A query, its result, a bar chart saved.
    run_in_explorer(
        &c,
        "SELECT course_id, count() AS events FROM events GROUP BY course_id ORDER BY course_id",
    )
    .await;
    wait_for(&c, "#result tr + tr").await;
    assert_eq!(
        js(&c, "return document.getElementById('error').hidden").await,
        true
    );
    let rows = js(&c, "return Array.from(document.querySelectorAll('#result tr')).slice(1).map(r => r.cells[0].textContent)").await;
    let expected: Vec<&str> = if modern {
        vec![&f.courses[0]]
    } else {
        f.courses.iter().map(String::as_str).collect()
    };
    assert_eq!(rows, serde_json::json!(expected), "the author's own rows");
    c.find(Locator::Css("#chart-name"))
        .await
        .unwrap()
        .send_keys("Events per course")
        .await
        .unwrap();
    let checked = js(
        &c,
        "return Array.from(document.querySelectorAll('#chart-y input:checked')).map(i => i.value)",
    )
    .await;
    assert_eq!(checked, serde_json::json!(["events"]));
    assert_eq!(
        js(
            &c,
            "return Chart.getChart(document.querySelector('#chart-preview canvas')).config.type"
        )
        .await,
        "bar"
    );
    let e2e = cairn_core::testing::workspace_dir().join("target/e2e");
    std::fs::create_dir_all(&e2e).unwrap();
    std::fs::write(e2e.join("explorer.png"), c.screenshot().await.unwrap()).unwrap();
    c.find(Locator::Css("#chart-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//span[@id='chart-status' and starts-with(., 'Saved chart')]",
        ))
        .await
        .unwrap();

    // A result of long rows stops at what the page reads, and the page says so.
    run_in_explorer(
        &c,
        "SELECT arrayJoin(range(200)) AS n, \
         arrayStringConcat(arrayResize(emptyArrayString(), 100000, 'x')) AS s",
    )
    .await;
    let notice = wait_for(&c, "#truncated:not([hidden])").await;
    let text = notice.text().await.unwrap();
    assert!(
        text.starts_with("Truncated: the first 83 rows are shown, as much of the result as the page reads (8 MiB)."),
        "{text}"
    );

    // A new dashboard with it, shared with the other user.
    c.goto(&format!("{}/dashboards", f.base)).await.unwrap();
    wait_for(&c, "body[data-ready='1']").await;
    c.find(Locator::Css("#new"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#d-name"))
        .await
        .unwrap()
        .send_keys("Team view")
        .await
        .unwrap();
    c.find(Locator::XPath(
        "//div[@id='d-charts']//label[contains(., 'Events per course')]/input",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.find(Locator::Css("#d-users"))
        .await
        .unwrap()
        .send_keys(viewer)
        .await
        .unwrap();
    c.find(Locator::Css("#d-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "body[data-drawn='1'] .tile[data-rows]").await;
    let url = c.current_url().await.unwrap();
    let id = url.fragment().unwrap().to_owned();
    assert_eq!(
        js(&c, "return Object.keys(Chart.instances).length").await,
        1
    );
    std::fs::create_dir_all(cairn_core::testing::workspace_dir().join("target/e2e")).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        cairn_core::testing::workspace_dir().join("target/e2e/dashboard.png"),
        png,
    )
    .unwrap();

    // The range shown by default is the course overview's: the last 8 ISO weeks.
    common::assert_default_range(&c).await;

    // The other user opens it: their own rows (or, on 18.16, why not).
    let (_d2, other) = common::chromium().await;
    sign_in(&other, &f.base, viewer, &format!("/dashboards#{id}")).await;
    wait_for(&other, "body[data-drawn='1'] .tile").await;
    assert_eq!(
        js(
            &other,
            "return document.getElementById('dash-title').textContent"
        )
        .await,
        "Team view"
    );
    assert_eq!(
        js(&other, "return document.getElementById('edit').hidden").await,
        true,
        "not theirs to edit"
    );
    if modern {
        let theirs = js(
            &other,
            "return document.querySelector('.tile')._result.rows.map(r => r[0])",
        )
        .await;
        assert_eq!(
            theirs,
            serde_json::json!([f.courses[1]]),
            "the viewer's rows, never the author's"
        );
    } else {
        let msg = js(
            &other,
            "return document.querySelector('.tile pre.error').textContent",
        )
        .await;
        assert!(msg.as_str().unwrap().contains("admins only"), "{msg}");
    }

    // A chart of more rows than a page holds is drawn from the first ones, and says so;
    // one of fewer says nothing.
    let session = common::sign_in(&f.base, author, common::PASSWORD)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (name, n) in [("Many rows", 10_005), ("Few rows", 5)] {
        let chart = serde_json::json!({ "chart": {
            "name": name, "sql": format!("SELECT arrayJoin(range({n})) AS n, n * 2 AS v"),
            "type": "line", "x": "n", "y": ["v"] } });
        let (_, r) = common::post_json(&f.base, &session, "/api/charts", chart).await;
        ids.push(r["id"].as_str().expect("a chart saved").to_owned());
    }
    let dash = serde_json::json!({ "dashboard": { "name": "Long", "charts": ids } });
    let (_, r) = common::post_json(&f.base, &session, "/api/dashboards", dash).await;
    let long = r["id"].as_str().expect("a dashboard saved");
    // A page load of its own (from another dashboard only the fragment would change).
    c.goto("about:blank").await.unwrap();
    c.goto(&format!("{}/dashboards#{long}", f.base))
        .await
        .unwrap();
    wait_for(
        &c,
        "body[data-drawn='1'] .tile[data-rows] + .tile[data-rows]",
    )
    .await;
    let notes = js(
        &c,
        "return Array.from(document.querySelectorAll('.tile')).map(t => [t.dataset.rows, (t.querySelector('p.truncated') || {}).textContent || ''])",
    )
    .await;
    assert_eq!(
        notes,
        serde_json::json!([
            [
                "10000",
                "Drawn from the first 10,000 rows of the result (a page holds at most that many)."
            ],
            ["5", ""]
        ])
    );

    c.close().await.unwrap();
    other.close().await.unwrap();
    f.drop_all().await;
    drop(own);
}
