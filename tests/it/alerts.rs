//! Alerts against a real HTTP server on loopback: one alert per transition, recoveries, none
//! while suppressed, retries on a server that fails, the state table read back, two concurrent
//! gate processes that do not both fire, and no protected value in any alert.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::util::{dq, read, root};

/// A minimal HTTP/1.1 server: answers 500 to the first `fail_first` requests, 200 after, and
/// keeps every request body with the status it got.
struct Hook {
    port: u16,
    got: Arc<Mutex<Vec<(u16, Value)>>>,
}

impl Hook {
    fn start(fail_first: usize) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<(u16, Value)>>> = Arc::default();
        let seen = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let mut g = seen.lock().unwrap();
                let status = if g.len() < fail_first { 500 } else { 200 };
                g.push((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                drop(g);
                let reason = if status == 200 {
                    "OK"
                } else {
                    "Internal Server Error"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Hook { port, got }
    }

    /// Bodies the server accepted (200), in order.
    fn accepted(&self) -> Vec<Value> {
        let g = self.got.lock().unwrap();
        g.iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b.clone())
            .collect()
    }

    fn requests(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn suite(dir: &Path, url: &str, suppress: &str) -> String {
    let text = format!(
        "dq_suite: 1
name: members
version: 1
schema:
  columns:
    - {{name: id, type: int64}}
    - {{name: email, type: string, tags: [pii]}}
expectations:
  - {{id: email_shape, expect: matches_regex, column: email, regex: '^[a-z]+@[a-z]+\\.[a-z]+$'}}
alerts:
  suppress: {suppress}
  events: [expectation_failed, rows_quarantined]
  sinks:
    - {{type: webhook, url: '{url}'}}
    - {{type: file, path: '{file}'}}
    - {{type: command, run: [sh, -c, 'cat >> {cmd}; echo >> {cmd}']}}
",
        file = dir.join("alerts.ndjson").display(),
        cmd = dir.join("cmd.ndjson").display(),
    );
    let p = dir.join("members.yaml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// A day's input: `bad` rows with a malformed email among 5.
fn input(dir: &Path, name: &str, bad: usize) -> String {
    let mut csv = String::from("id,email\n");
    for i in 0..5 {
        if i < bad {
            csv.push_str(&format!("{i},Secret.Person{i}@@example\n"));
        } else {
            csv.push_str(&format!(
                "{i},ok{}@example.org\n",
                "abcde".as_bytes()[i] as char
            ));
        }
    }
    let p = dir.join(format!("{name}.csv"));
    std::fs::write(&p, csv).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(dir: &Path, suite: &str, day: u32, bad: usize, run_id: &str) -> (i32, Value) {
    let data = input(dir, run_id, bad);
    let o = dq(
        &[
            "run",
            "--suite",
            suite,
            "--target",
            dir.join("lake/members").to_str().unwrap(),
            "--quarantine",
            dir.join("lake/members_quarantine").to_str().unwrap(),
            "--run-id",
            run_id,
            "--as-of",
            &format!("2026-11-{day:02}T06:00:00Z"),
            "--format",
            "json",
            &data,
        ],
        &root(),
    );
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap(), report)
}

fn statuses(bodies: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = bodies
        .iter()
        .map(|b| {
            (
                b["subject"].as_str().unwrap().to_string(),
                b["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn one_alert_per_transition_with_recovery_suppression_and_retries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The server fails the first two requests: the first alert is retried to success.
    let hook = Hook::start(2);
    let suite = suite(d, &format!("http://127.0.0.1:{}/hook", hook.port), "5d");
    let firing = vec![
        ("expectation:email_shape".to_string(), "firing".to_string()),
        ("quarantine".to_string(), "firing".to_string()),
    ];
    let resolved = vec![
        (
            "expectation:email_shape".to_string(),
            "resolved".to_string(),
        ),
        ("quarantine".to_string(), "resolved".to_string()),
    ];

    // Day 1: two bad rows: both subjects fire, delivered after two failed attempts.
    let (code, r) = run(d, &suite, 1, 2, "d1");
    assert_eq!(code, 1);
    assert_eq!(statuses(&hook.accepted()), firing);
    assert_eq!(hook.requests(), 4, "two 500s, then two deliveries");
    assert!(
        r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["delivered"] == true),
        "{r}"
    );
    let first = &hook.accepted()[0];
    assert_eq!(first["suite"]["name"], "members");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] members")
    );

    // Day 2: still failing: no transition, nothing sent.
    run(d, &suite, 2, 1, "d2");
    assert_eq!(hook.accepted().len(), 2);

    // Day 3: clean: both recover, and the recoveries are sent.
    let (code, _) = run(d, &suite, 3, 0, "d3");
    assert_eq!(code, 0);
    assert_eq!(statuses(&hook.accepted()[2..]), resolved);

    // Day 4: failing again within 5 days of the last delivered firing: recorded, not sent.
    let (_, r) = run(d, &suite, 4, 1, "d4");
    assert_eq!(hook.accepted().len(), 4);
    assert!(
        r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["suppressed"] == true),
        "{r}"
    );
    // Day 5: clean again: nobody heard of day 4's firing, so its recovery is not sent either.
    run(d, &suite, 5, 0, "d5");
    assert_eq!(hook.accepted().len(), 4);

    // Every transition is in the state table, and a delivery row for each one sent.
    let rows = read(
        &d.join("lake/members_dq_alerts"),
        "ORDER BY as_of, subject, kind",
    )
    .await;
    let kinds = super::util::strings(&rows, "kind");
    let transitions = kinds
        .iter()
        .filter(|k| k.as_deref() == Some("transition"))
        .count();
    let deliveries = kinds
        .iter()
        .filter(|k| k.as_deref() == Some("delivery"))
        .count();
    assert_eq!((transitions, deliveries), (8, 4));

    // The file and the command got the same four alerts.
    let lines = |f: &str| -> Vec<Value> {
        std::fs::read_to_string(d.join(f))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(lines("alerts.ndjson").len(), 4);
    assert_eq!(lines("cmd.ndjson").len(), 4);

    // No protected value in any alert: the emails never leave the quarantine.
    for body in hook.accepted() {
        let text = body.to_string();
        assert!(!text.contains("Secret.Person"), "{text}");
        assert!(!text.contains("example.org"), "{text}");
    }
    assert!(
        !std::fs::read_to_string(d.join("alerts.ndjson"))
            .unwrap()
            .contains("Secret.Person")
    );

    // `status` sees no alert firing after day 5.
    let o = dq(
        &[
            "status",
            "--suite",
            &suite,
            "--target",
            d.join("lake/members").to_str().unwrap(),
            "--as-of",
            "2026-11-05T12:00:00Z",
            "--format",
            "json",
        ],
        &root(),
    );
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["alerts_firing"].as_array().unwrap().len(), 0, "{st}");
    assert_eq!(o.status.code(), Some(0));
    // After a day that fails again (past the suppression), status pages: an alert is firing.
    run(d, &suite, 12, 1, "d12");
    assert_eq!(hook.accepted().len(), 6);
    let o = dq(
        &[
            "status",
            "--suite",
            &suite,
            "--target",
            d.join("lake/members").to_str().unwrap(),
            "--as-of",
            "2026-11-12T12:00:00Z",
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_runs_send_each_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let hook = Hook::start(0);
    let suite = suite(&d, &format!("http://127.0.0.1:{}/hook", hook.port), "1h");
    let handles: Vec<_> = ["a", "b"]
        .iter()
        .map(|id| {
            let (d, suite) = (d.clone(), suite.clone());
            let id = id.to_string();
            std::thread::spawn(move || run(&d, &suite, 1, 1, &id))
        })
        .collect();
    let mut delivered = 0;
    let mut duplicates = 0;
    for h in handles {
        let (code, r) = h.join().unwrap();
        assert_eq!(code, 1);
        // A process that found the transitions recorded raised none: no `alerts` key.
        for a in r["alerts"].as_array().map_or(&[][..], Vec::as_slice) {
            delivered += usize::from(a["delivered"] == true);
            duplicates += usize::from(a["duplicate"] == true);
        }
    }
    // Each transition delivered by exactly one process; the other saw it recorded (either
    // before deciding, or when its own commit lost the race).
    assert_eq!(delivered, 2);
    eprintln!("transitions that lost the race: {duplicates}");
    assert_eq!(
        statuses(&hook.accepted()),
        vec![
            ("expectation:email_shape".to_string(), "firing".to_string()),
            ("quarantine".to_string(), "firing".to_string()),
        ]
    );
}

#[test]
fn an_unreachable_sink_never_changes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let suite = suite(d, &format!("http://127.0.0.1:{port}/hook"), "1h");
    let (code, r) = run(d, &suite, 1, 2, "d1");
    assert_eq!(code, 1, "quarantined, as without alerts");
    assert_eq!(r["summary"]["rows_quarantined"], 2);
    let alerts = r["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    for a in alerts {
        assert_eq!(a["delivered"], false);
        let e = a["errors"][0].as_str().unwrap();
        assert!(e.starts_with("webhook 127.0.0.1"), "{e}");
    }
    // The other sinks still got them.
    let n = std::fs::read_to_string(d.join("alerts.ndjson"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(n, 2);
}

/// An input whose columns or types differ from the last run's fires `schema_drift`; the next
/// run with the same columns resolves it.
#[test]
fn schema_drift_fires_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("alerts.ndjson");
    let suite = d.join("s.yaml");
    std::fs::write(
        &suite,
        format!(
            "dq_suite: 1\nname: feed\nversion: 1\nexpectations:\n  - {{id: id_ok, expect: not_null, column: id}}\nalerts:\n  events: [schema_drift]\n  sinks:\n    - {{type: file, path: '{}'}}\n",
            file.display()
        ),
    )
    .unwrap();
    let days = [
        (1, "id,amount\n1,2.5\n"),
        (2, "id,amount\n1,3.5\n"),
        (3, "id,amount,currency\n1,3.5,EUR\n"),
        (4, "id,amount,currency\n2,1.5,USD\n"),
    ];
    for (day, csv) in days {
        let input = d.join(format!("d{day}.csv"));
        std::fs::write(&input, csv).unwrap();
        let o = dq(
            &[
                "run",
                "--suite",
                suite.to_str().unwrap(),
                "--target",
                d.join("lake/feed").to_str().unwrap(),
                "--quarantine",
                d.join("lake/feed_q").to_str().unwrap(),
                "--run-id",
                &format!("d{day}"),
                "--as-of",
                &format!("2026-11-0{day}T06:00:00Z"),
                "--quiet",
                input.to_str().unwrap(),
            ],
            &root(),
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let alerts: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Day 1 has nothing to compare with, day 2 matches (nothing was firing), day 3 drifts,
    // day 4 matches day 3.
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["status"], "firing");
    assert_eq!(alerts[0]["event"], "schema_drift");
    assert_eq!(alerts[0]["run_id"], "d3");
    assert!(
        alerts[0]["text"]
            .as_str()
            .unwrap()
            .contains("added currency (string)"),
        "{}",
        alerts[0]["text"]
    );
    assert_eq!(alerts[1]["status"], "resolved");
    assert_eq!(alerts[1]["run_id"], "d4");
}
