//! Driving Redmine as a user would: its web forms (session cookie, CSRF token), its REST API
//! (basic auth), and a real browser (Chromium through chromedriver's WebDriver API).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use serde_json::{json, Value};

use crate::http::{self, Response, Session};

/// The text between `start` and the next `end` after it.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// The CSRF token of the first form on a page.
fn token(page: &Response) -> Result<String> {
    between(&page.body, r#"name="authenticity_token" value=""#, "\"")
        .map(str::to_string)
        .context("no authenticity_token on the page")
}

/// Logs in through the login form; fails if Redmine sends the user anywhere but on (a forced
/// password change, the login page again).
pub fn login(base: &str, user: &str, password: &str) -> Result<Session> {
    let mut session = Session::default();
    let form = session.get(&format!("{base}/login"))?;
    ensure!(form.status == 200, "GET /login: status {}", form.status);
    let token = token(&form)?;
    let resp = session.post_form(
        &format!("{base}/login"),
        &[
            ("authenticity_token", &token),
            ("username", user),
            ("password", password),
        ],
    )?;
    let to = resp.header("Location").unwrap_or_default().to_string();
    ensure!(
        resp.status == 302 && !to.contains("/login"),
        "the login was refused (status {}, to {to:?})",
        resp.status
    );
    let account = session.get(&format!("{base}/my/account"))?;
    let to = account.header("Location").unwrap_or_default();
    ensure!(
        !to.contains("/my/password"),
        "Redmine forces a password change at the first login"
    );
    ensure!(
        account.status == 200,
        "GET /my/account: status {} (to {to:?})",
        account.status
    );
    Ok(session)
}

/// Changes settings through Administration › Settings, tab `tab`, as an admin would.
pub fn set_settings(
    session: &mut Session,
    base: &str,
    tab: &str,
    fields: &[(&str, &str)],
) -> Result<()> {
    let page = session.get(&format!("{base}/settings?tab={tab}"))?;
    ensure!(
        page.status == 200,
        "GET /settings?tab={tab}: status {}",
        page.status
    );
    let token = token(&page)?;
    let mut form = vec![("authenticity_token", token.as_str())];
    form.extend_from_slice(fields);
    let resp = session.post_form(&format!("{base}/settings/edit?tab={tab}"), &form)?;
    ensure!(
        resp.status == 302,
        "saving the settings: status {}",
        resp.status
    );
    Ok(())
}

/// Logs in as the admin and turns Redmine's REST API on; returns that session and an API
/// client of the admin.
pub fn admin_api(base: &str, password: &str) -> Result<(Session, Api)> {
    let mut admin = login(base, "admin", password)?;
    set_settings(
        &mut admin,
        base,
        "api",
        &[("settings[rest_api_enabled]", "1")],
    )?;
    Ok((admin, Api::new(base, "admin", password)))
}

/// The `<select id="settings_ui_theme">` of the Display settings.
pub fn theme_select(session: &mut Session, base: &str) -> Result<String> {
    let page = session.get(&format!("{base}/settings?tab=display"))?;
    ensure!(
        page.status == 200,
        "GET /settings?tab=display: status {}",
        page.status
    );
    let at = page
        .body
        .find(r#"id="settings_ui_theme""#)
        .context("no select#settings_ui_theme on the Display settings")?;
    let end = page.body[at..]
        .find("</select>")
        .context("unterminated select")?;
    Ok(page.body[at..at + end].to_string())
}

/// Redmine's REST API as one user, with basic auth.
pub struct Api {
    pub base: String,
    auth: String,
}

impl Api {
    pub fn new(base: &str, user: &str, password: &str) -> Api {
        Api {
            base: base.into(),
            auth: http::basic_auth(user, password),
        }
    }

    pub fn get(&self, path: &str) -> Result<Response> {
        http::request(
            "GET",
            &format!("{}{path}", self.base),
            &[("Authorization", &self.auth)],
            "",
        )
    }

    /// Sends a body; fails unless Redmine answers 201 Created.
    pub fn create(&self, path: &str, content_type: &str, body: &str) -> Result<Response> {
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("Content-Type", content_type),
        ];
        let resp = http::request("POST", &format!("{}{path}", self.base), &headers, body)?;
        ensure!(
            resp.status == 201,
            "POST {path}: status {}: {}",
            resp.status,
            resp.body
        );
        Ok(resp)
    }

    /// Creates an issue in `project` (its identifier or id) with `content` attached as the text
    /// file `filename`, the way a client of the REST API does: the file is uploaded first, then
    /// the issue names its upload token.
    pub fn issue_with_attachment(
        &self,
        project: &str,
        subject: &str,
        filename: &str,
        content: &str,
    ) -> Result<Attached> {
        let upload = self.create(
            &format!("/uploads.json?filename={filename}"),
            "application/octet-stream",
            content,
        )?;
        let token = upload.json()?["upload"]["token"]
            .as_str()
            .context("no upload token")?
            .to_string();
        let issue = json!({"issue": {
            "project_id": project,
            "subject": subject,
            "uploads": [{"token": token, "filename": filename, "content_type": "text/plain"}],
        }});
        let issue = self.create("/issues.json", "application/json", &issue.to_string())?;
        let issue = issue.json()?["issue"]["id"]
            .as_u64()
            .context("the new issue has no id")?;
        let shown = self
            .get(&format!("/issues/{issue}.json?include=attachments"))?
            .json()?;
        let url = shown["issue"]["attachments"][0]["content_url"]
            .as_str()
            .context("the new issue has no attachment")?;
        let path = url
            .find("/attachments/")
            .map(|i| url[i..].to_string())
            .with_context(|| format!("an attachment's URL without /attachments/: {url}"))?;
        Ok(Attached { issue, path })
    }
}

/// An issue with an attachment, made by [`Api::issue_with_attachment`].
pub struct Attached {
    pub issue: u64,
    /// Where the attachment is downloaded: `/attachments/download/ID/NAME`.
    pub path: String,
}

/// The SHA-256 of some text, by `sha256sum`.
pub fn sha256(sh: &Shell, text: &str) -> Result<String> {
    let out = cmd!(sh, "sha256sum").stdin(text).quiet().read()?;
    Ok(out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Headless Chromium driven over WebDriver by chromedriver, on a loopback port.
pub struct Browser {
    driver: duct::Handle,
    base: String,
    session: String,
    _profile: crate::scratch::Scratch,
}

impl Browser {
    pub fn start(profile: &Path) -> Result<Browser> {
        let port = crate::docker::free_port()?;
        let driver = duct::cmd!("chromedriver", format!("--port={port}"))
            .stdout_null()
            .stderr_null()
            .start()
            .context("starting chromedriver (Debian: apt-get install chromium chromium-driver)")?;
        let profile = crate::scratch::Scratch::at(profile.to_path_buf())?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            _profile: profile,
        };
        let start = Instant::now();
        while browser.call("GET", "/status", None).is_err() {
            ensure!(
                start.elapsed() < Duration::from_secs(15),
                "chromedriver did not answer"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let data_dir = format!("--user-data-dir={}", browser._profile.path().display());
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
            &data_dir,
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": args,
        }}}});
        let answer = browser.call("POST", "/session", Some(caps))?;
        browser.session = answer["sessionId"]
            .as_str()
            .with_context(|| format!("no WebDriver session: {answer}"))?
            .to_string();
        Ok(browser)
    }

    /// One WebDriver call; returns its `value`, failing on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("Content-Type", "application/json")]
        };
        let mut answer = http::request(method, &url, headers, &body)?.json()?;
        let value = answer.get_mut("value").map(Value::take).unwrap_or_default();
        if let Some(error) = value["error"].as_str() {
            let message: String = value["message"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect();
            bail!("WebDriver {method} {path}: {error}: {message}");
        }
        // New sessions answer {"value": {"sessionId": …}}; the rest answer {"value": …}.
        Ok(if value.is_null() { answer } else { value })
    }

    pub fn open(&self, url: &str) -> Result<()> {
        let path = format!("/session/{}/url", self.session);
        self.call("POST", &path, Some(json!({ "url": url })))?;
        Ok(())
    }

    /// Runs a script in the page; returns its string result.
    pub fn eval(&self, script: &str) -> Result<String> {
        let path = format!("/session/{}/execute/sync", self.session);
        let out = self.call("POST", &path, Some(json!({"script": script, "args": []})))?;
        out.as_str()
            .map(str::to_string)
            .with_context(|| format!("no string result: {out}"))
    }

    pub fn screenshot(&self, to: &Path) -> Result<()> {
        let out = self.call(
            "GET",
            &format!("/session/{}/screenshot", self.session),
            None,
        )?;
        let png = http::base64_decode(out.as_str().context("no screenshot")?)?;
        ensure!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        std::fs::write(to, png).with_context(|| format!("writing {}", to.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
    }
}
