//! The run's report as one HTML page, opened in a real headless browser (Debian's chromium):
//! it renders, its charts are there, and no protected value of the fixtures is in it.

use super::util::{browse, dq, root};

#[test]
fn the_html_report_renders_in_a_browser_without_protected_values() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let o = dq(
        &[
            "validate",
            "--suite",
            "expectations/claims.yaml",
            "fixtures/claims",
            "--as-of",
            "2026-01-15",
            "--format",
            "html",
            "--report-html",
            page.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(1));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        html,
        "stdout and file are the same page"
    );
    assert!(html.starts_with("<!doctype html>"));
    // Self-contained: no script, nothing fetched.
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));

    // No member id (pii) of the fixtures appears; the samples of its failing rows are masked.
    for f in ["claims_2025_11_a.csv", "claims_2025_11_b.csv"] {
        let text = std::fs::read_to_string(root().join("fixtures/claims").join(f)).unwrap();
        for line in text.lines().skip(1) {
            let member = line.split(',').nth(1).unwrap();
            if member.len() > 3 {
                assert!(!html.contains(member), "{member} is in the page");
            }
        }
    }

    // The browser renders it: the status, both batches' tables, the charts.
    let profile = dir.path().join("profile");
    let dom = browse(&page, &profile, &["--dump-dom"]);
    assert!(
        dom.contains("id=\"status\"") && dom.contains("QUARANTINED"),
        "{dom}"
    );
    assert_eq!(dom.matches("<table class=\"expectations\"").count(), 2);
    assert!(
        dom.matches("<svg").count() > 10,
        "a bar per row-level expectation"
    );
    assert!(dom.contains("plan_code_valid") && dom.contains("hmo01"));
    let shot = dir.path().join("shot.png");
    browse(
        &page,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
            "--hide-scrollbars",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}
