//! Signing in with the LMS in headless Chromium, through the stand-in's own sign-in page:
//! each user lands on the dashboard with exactly the courses of their LMS roles (course
//! staff of one course, an org role, global staff), a learner with no role on the page
//! that says so, and two users signed in at once in two browsers each see only theirs.

mod common;

use std::time::Duration;

use common::{Fixture, LMS_PASSWORD, dashboard_sso, ready};
use fantoccini::{Client, Locator};

/// Clicks "Sign in with …", signs in at the LMS's page, and follows it back.
async fn sign_in_with_the_lms(c: &Client, f: &Fixture, user: &str) {
    c.goto(&format!("{}/login", f.base)).await.unwrap();
    c.find(Locator::Css("#sign-in-lms"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let lms = &f.standin.as_ref().unwrap().url;
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#username"))
        .await
        .unwrap();
    assert!(
        c.current_url().await.unwrap().as_str().starts_with(lms),
        "at the LMS's sign-in page"
    );
    common::fill_sign_in(c, user, LMS_PASSWORD).await;
}

async fn course_options(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "return Array.from(document.querySelectorAll('#course option')).map(o => o.value)",
            vec![],
        )
        .await
        .unwrap();
    let mut list: Vec<String> = serde_json::from_value(v).unwrap();
    list.sort();
    list
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_the_lms_in_chromium() {
    let f = dashboard_sso("serve_browser_sso").await;
    let (c1, c2) = (f.courses[0].clone(), f.courses[1].clone());

    // Two browsers at once: course staff of C02, and the org's staff.
    let (_d1, inst) = common::chromium().await;
    let (_d2, org) = common::chromium().await;
    sign_in_with_the_lms(&inst, &f, "inst").await;
    ready(&inst).await;
    assert_eq!(course_options(&inst).await, vec![c2.clone()]);
    sign_in_with_the_lms(&org, &f, "orgstaff").await;
    ready(&org).await;
    assert_eq!(course_options(&org).await, vec![c1.clone(), c2.clone()]);
    // The first browser still sees only its user's course, after a refresh too.
    inst.refresh().await.unwrap();
    ready(&inst).await;
    assert_eq!(course_options(&inst).await, vec![c2.clone()]);
    let path = inst.current_url().await.unwrap().path().to_owned();
    assert_eq!(path, "/", "on the dashboard");
    let png = org.screenshot().await.unwrap();
    let out = cairn_core::testing::workspace_dir().join("target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("signed-in-with-the-lms.png"), png).unwrap();

    // Global staff sees every course; a learner with no role gets the page saying so.
    let (_d3, admin) = common::chromium().await;
    sign_in_with_the_lms(&admin, &f, "admin").await;
    ready(&admin).await;
    assert_eq!(course_options(&admin).await, vec![c1.clone(), c2.clone()]);
    let (_d4, learner) = common::chromium().await;
    sign_in_with_the_lms(&learner, &f, "learner00001").await;
    let title = learner
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#title"))
        .await
        .unwrap();
    // Wait past the "Signed in" page to the dashboard's answer.
    for _ in 0..50 {
        if title.text().await.map(|t| t != "Signed in").unwrap_or(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = learner
        .find(Locator::Css("#title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page, "No course to show");
    let message = learner
        .find(Locator::Css("#message"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(message.contains("administrator"), "{message}");
    // And signs out: the session ends.
    learner
        .find(Locator::Css("#sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let signed_out = learner
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#next"))
        .await
        .unwrap();
    assert_eq!(signed_out.text().await.unwrap(), "Sign out of the LMS too");
    learner.goto(&format!("{}/", f.base)).await.unwrap();
    assert!(
        learner
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );

    for c in [inst, org, admin, learner] {
        c.close().await.unwrap();
    }
    f.drop_all().await;
}
