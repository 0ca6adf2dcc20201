//! What the Redmine serving section loads, made before anything is timed: a private project with
//! a few hundred issues created through the REST API, an issue with an attachment, and a session
//! cookie of a logged-in user for wrk.

use anyhow::{ensure, Context, Result};
use serde_json::json;

use crate::http;
use crate::redmine::Stack;
use crate::testkit::web::{self, Api};

/// The project's identifier.
pub const PROJECT: &str = "bench";
/// The attachment's file name.
pub const ATTACHMENT: &str = "bench-notes.txt";

pub struct Fixtures {
    /// How many issues the project holds.
    pub issues: usize,
    /// The issue that has the attachment.
    pub attached: u64,
    /// The admin's session: the value of a `Cookie` header.
    pub cookie: String,
}

impl Fixtures {
    /// Creates them on a freshly set-up stack (the admin with the generated password).
    pub fn create(stack: &Stack, issues: usize) -> Result<Fixtures> {
        let base = stack.url();
        let password = stack.admin_password()?;
        let (admin, api) = web::admin_api(&base, &password)?;
        let trackers = api.get("/trackers.json")?.json()?;
        let tracker_ids: Vec<u64> = trackers["trackers"]
            .as_array()
            .context("no trackers: Redmine's default data is not loaded")?
            .iter()
            .filter_map(|t| t["id"].as_u64())
            .collect();
        let project = json!({"project": {
            "name": "Bench",
            "identifier": PROJECT,
            "is_public": false,
            "tracker_ids": tracker_ids,
        }});
        let project = post(&api, "/projects.json", &project)?;
        let project_id = project["project"]["id"]
            .as_u64()
            .context("the new project has no id")?;
        for n in 1..issues {
            let issue = json!({"issue": {
                "project_id": project_id,
                "subject": format!("Bench issue {n}"),
                "description": format!("Issue {n} of the benchmark's project: *a few* words of \
                    _Textile_, a [[wiki link]] and a list:\n\n* one\n* two\n"),
            }});
            post(&api, "/issues.json", &issue)?;
        }
        let attached = api
            .issue_with_attachment(
                &project_id.to_string(),
                "Bench issue with an attachment",
                ATTACHMENT,
                &"The benchmark's attachment: a few lines of text.\n".repeat(40),
            )?
            .issue;
        let cookie = admin.cookie();
        Ok(Fixtures {
            issues,
            attached,
            cookie,
        })
    }

    /// The pages the section loads: (name, path, logged in, a text the page must hold).
    pub fn pages(&self) -> [Page; 3] {
        [
            Page {
                name: "anonymous /projects",
                path: "/projects".into(),
                logged_in: false,
                holds: "Projects".into(),
            },
            Page {
                name: "issue list, logged in",
                path: format!("/projects/{PROJECT}/issues"),
                logged_in: true,
                holds: "Bench issue".into(),
            },
            Page {
                name: "issue with an attachment, logged in",
                path: format!("/issues/{}", self.attached),
                logged_in: true,
                holds: ATTACHMENT.into(),
            },
        ]
    }

    /// Fails unless `page` answers 200 with its text at `base`, with the cookie when logged in
    /// (wrk would count a redirect to the login page as an answer).
    pub fn check(&self, base: &str, page: &Page) -> Result<()> {
        let headers: &[(&str, &str)] = if page.logged_in {
            &[("Cookie", &self.cookie)]
        } else {
            &[]
        };
        let resp = http::request("GET", &format!("{base}{}", page.path), headers, "")?;
        ensure!(
            resp.status == 200 && resp.body.contains(&page.holds),
            "GET {}: status {}, {:?} {}",
            page.path,
            resp.status,
            page.holds,
            if resp.body.contains(&page.holds) {
                "found"
            } else {
                "not found"
            }
        );
        Ok(())
    }
}

/// One page the load goes to.
pub struct Page {
    pub name: &'static str,
    pub path: String,
    pub logged_in: bool,
    holds: String,
}

/// POSTs JSON to the REST API; the created object.
fn post(api: &Api, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
    api.create(path, "application/json", &body.to_string())?
        .json()
}
