//! Delivering an alert: a webhook POST, a command with the payload on its standard input, or a
//! line appended to a file; each sink tried again with backoff (docs/monitoring.md#alerts).

use std::io::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::suite::Sink;

/// Sends `payload` to every sink, each with `attempts` tries and backoff; returns the errors
/// of the sinks that never took it.
pub(crate) async fn deliver(sinks: &[Sink], attempts: u32, payload: &Value) -> Vec<String> {
    let body = payload.to_string();
    let mut errors = Vec::new();
    for s in sinks {
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
            }
            match send(s, &body).await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            errors.push(e);
        }
    }
    errors
}

async fn send(sink: &Sink, body: &str) -> std::result::Result<(), String> {
    match sink {
        Sink::Webhook { url, url_env } => {
            let url = match (url, url_env) {
                (Some(u), _) => u.clone(),
                (None, Some(v)) => {
                    std::env::var(v).map_err(|_| format!("webhook: the variable {v} is not set"))?
                }
                (None, None) => return Err("webhook: no url".into()),
            };
            // The URL may hold a secret: errors name the host only.
            let host = url::Url::parse(&url)
                .ok()
                .and_then(|u| u.host_str().map(String::from))
                .unwrap_or_default();
            let response = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| format!("webhook {host}: {}", e.without_url()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!(
                    "webhook {host}: HTTP {}",
                    response.status().as_u16()
                ))
            }
        }
        Sink::Command { run } => {
            let run = run.clone();
            let body = body.to_string();
            tokio::task::spawn_blocking(move || run_command(&run, &body))
                .await
                .map_err(|e| format!("command: {e}"))?
        }
        Sink::File { path } => {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("file {path}: {e}"))?;
            f.write_all(format!("{body}\n").as_bytes())
                .map_err(|e| format!("file {path}: {e}"))
        }
    }
}

/// Runs `run` with `body` on its standard input; 30 seconds at most.
fn run_command(run: &[String], body: &str) -> std::result::Result<(), String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(&run[0])
        .args(&run[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("command {}: {e}", run[0]))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(body.as_bytes());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => return Err(format!("command {}: exited with {s}", run[0])),
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                return Err(format!("command {}: still running after 30 s", run[0]));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("command {}: {e}", run[0])),
        }
    }
}
