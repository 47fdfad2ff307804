//! The `zendesk_ticket` delivery: one job, one contact, whatever happened
//! to earlier attempts (their answers may have been lost after Zendesk
//! acted). Payloads are built by [`super::zendesk`]; calls are
//! [`super::zendesk_api`].
//!
//! **Create job.** No Zendesk ticket linked yet → `POST` with the job's
//! dedupe key as `Idempotency-Key` (a lost answer's retry gets the same
//! ticket back). Zendesk forgets a key after 2 hours, so an attempt made
//! more than [`LATE_AFTER_MINUTES`] after the job's first one looks the
//! ticket up by `external_id` first and creates it only if absent. The
//! ticket id and requester id are stored on our ticket (and the requester
//! id as the member's support user id) before the private note is added;
//! a retry adds the note only if no comment of the ticket carries it.
//!
//! **Comment job.** Waits (parked, no attempt spent) while the ticket's
//! create job has not succeeded; then a public comment by the requester,
//! checked first on a retry so a lost answer never doubles it. A ticket gone
//! from Zendesk (404) → a new ticket under a fresh key
//! (`<dedupe key>:after:<gone id>`), after an `external_id` lookup in case a
//! sibling job already made one. A create job that was discarded (or never
//! existed) lets the comment job create the ticket itself.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::zendesk::{create_key, note_marker};
use super::zendesk_api::{same_text, Api, Origin, Presence, ZdTicket};
use crate::db::Sql;
use crate::jobs::{Job, JobError, Reason};
use crate::state::App;

/// A retry this long after the job's first attempt looks the ticket up
/// first (Zendesk keeps an `Idempotency-Key` 120 minutes; 30 to spare).
pub const LATE_AFTER_MINUTES: i64 = 90;
/// How long a comment waits before looking at its create job again.
pub const WAIT_SECS: i64 = 60;
/// The same, while the create job is dead (a person must retry or discard it).
pub const WAIT_DEAD_SECS: i64 = 600;

/// What the job's payload says.
struct Plan {
    ticket_id: Uuid,
    create: bool,
    body: Value,
    message: String,
    note: String,
}

impl Plan {
    fn parse(p: &Value) -> Option<Self> {
        Some(Self {
            ticket_id: p["ticket_id"].as_str()?.parse().ok()?,
            create: p["op"].as_str()? == "create",
            body: p["create"].clone(),
            message: p["create"]["ticket"]["comment"]["body"]
                .as_str()?
                .to_string(),
            note: p["note"].as_str()?.to_string(),
        })
    }
}

/// Our ticket's link to Zendesk and the facts the job decides with.
struct Linked {
    ticket: Option<i64>,
    requester: Option<i64>,
    /// The state of the ticket's create job (`None`: there is none).
    creation: Option<String>,
    /// When this job's first recorded attempt ended.
    first_attempt: Option<DateTime<Utc>>,
}

/// Delivers one job (see the module doc).
pub async fn deliver(app: &App, job: &Job) -> Result<(), JobError> {
    let Some(zd) = &app.config.zendesk else {
        return Err(JobError::permanent(
            Reason::NotConfigured,
            "zendesk is not configured",
        ));
    };
    let plan = Plan::parse(&job.payload)
        .ok_or_else(|| JobError::permanent(Reason::MissingData, "job payload is incomplete"))?;
    let api = Api::new(app, zd);
    let linked = load(app, job, plan.ticket_id).await?;
    if plan.create {
        return create(app, &api, job, &plan, linked).await;
    }
    wait_for_creation(app, linked.creation.as_deref())?;
    let Some(id) = linked.ticket else {
        return place(app, &api, job, &plan, &job.dedupe_key, true, None).await;
    };
    match ensure_message(&api, id, &plan, linked.requester, job.attempts > 1).await? {
        Presence::Done => Ok(()),
        Presence::Gone => place(app, &api, job, &plan, &fresh_key(job, id), true, Some(id)).await,
    }
}

async fn create(
    app: &App,
    api: &Api<'_>,
    job: &Job,
    plan: &Plan,
    l: Linked,
) -> Result<(), JobError> {
    let Some(id) = l.ticket else {
        let late = l
            .first_attempt
            .is_some_and(|t| app.clock.now() - t > Duration::minutes(LATE_AFTER_MINUTES));
        return place(app, api, job, plan, &job.dedupe_key, late, None).await;
    };
    // An earlier attempt created and linked it; the note may be there too.
    match ensure_note(api, id, plan, true).await? {
        Presence::Done => Ok(()),
        Presence::Gone => place(app, api, job, plan, &fresh_key(job, id), true, Some(id)).await,
    }
}

/// Creates (or finds) the Zendesk ticket for this contact, links it, then
/// makes sure the message and the note are on it.
async fn place(
    app: &App,
    api: &Api<'_>,
    job: &Job,
    plan: &Plan,
    key: &str,
    lookup: bool,
    gone: Option<i64>,
) -> Result<(), JobError> {
    let found = if lookup {
        api.find(&plan.ticket_id.to_string(), gone).await?
    } else {
        None
    };
    let (t, origin) = match found {
        Some(t) => (t, Origin::Found),
        None => api.create(key, &plan.body).await?,
    };
    link(app, plan.ticket_id, job.member_id, t).await?;
    tracing::info!(
        job_id = job.id, ticket_id = %plan.ticket_id, zendesk_ticket_id = t.id,
        origin = ?origin, "zendesk ticket linked"
    );
    let mut present = Presence::Done;
    if origin == Origin::Found {
        // Made by an earlier attempt or a sibling job: it may lack this message.
        present = ensure_message(api, t.id, plan, t.requester_id, true).await?;
    }
    if present == Presence::Done {
        let check = origin != Origin::Created || job.attempts > 1;
        present = ensure_note(api, t.id, plan, check).await?;
    }
    match present {
        Presence::Done => Ok(()),
        Presence::Gone => Err(JobError::Retryable {
            reason: Reason::Upstream4xx,
            status: Some(404),
            retry_after: None,
            message: "the zendesk ticket was deleted while we wrote to it".into(),
        }),
    }
}

/// The contact's message as a public comment by the requester, unless a
/// check finds it there already.
async fn ensure_message(
    api: &Api<'_>,
    id: i64,
    plan: &Plan,
    requester: Option<i64>,
    check: bool,
) -> Result<Presence, JobError> {
    let mut comment = json!({ "body": plan.message, "public": true });
    if let Some(author) = requester {
        comment["author_id"] = author.into();
    }
    ensure(api, id, comment, check, |b| same_text(b, &plan.message)).await
}

/// The member's context as a private note, unless a check finds it.
async fn ensure_note(
    api: &Api<'_>,
    id: i64,
    plan: &Plan,
    check: bool,
) -> Result<Presence, JobError> {
    let comment = json!({ "body": plan.note, "public": false });
    let marker = note_marker(plan.ticket_id);
    ensure(api, id, comment, check, |b| b.starts_with(&marker)).await
}

async fn ensure(
    api: &Api<'_>,
    id: i64,
    comment: Value,
    check: bool,
    matches: impl Fn(&str) -> bool,
) -> Result<Presence, JobError> {
    if check {
        match api.has_comment(id, matches).await? {
            None => return Ok(Presence::Gone),
            Some(true) => return Ok(Presence::Done),
            Some(false) => {}
        }
    }
    api.comment(id, comment).await
}

/// A key no earlier request used: the old ticket's creation key is spent.
fn fresh_key(job: &Job, gone: i64) -> String {
    format!("{}:after:{gone}", job.dedupe_key)
}

/// Parks a comment job while its ticket's create job has not succeeded.
fn wait_for_creation(app: &App, creation: Option<&str>) -> Result<(), JobError> {
    let wait = match creation {
        Some("pending" | "running" | "held") => WAIT_SECS,
        Some("dead") => WAIT_DEAD_SECS,
        _ => return Ok(()),
    };
    Err(JobError::Park {
        until: app.clock.now() + Duration::seconds(wait),
        reason: Reason::MissingData,
        message: format!(
            "waiting for the zendesk ticket's creation ({})",
            creation.unwrap_or("")
        ),
    })
}

/// Our ticket's link, its create job's state and this job's first attempt,
/// in one statement.
async fn load(app: &App, job: &Job, ticket_id: Uuid) -> Result<Linked, JobError> {
    let db = app.db.get().await.map_err(JobError::store)?;
    let row = db
        .query_opt(
            r#"SELECT t.zendesk_ticket_id, t.zendesk_requester_id,
                      (SELECT state FROM jobs WHERE dedupe_key = $2),
                      (SELECT min((h->>'at')::timestamptz) FROM jobs j, jsonb_array_elements(j.history) h
                        WHERE j.id = $3)
               FROM tickets t WHERE t.id = $1"#,
            &[&ticket_id, &create_key(ticket_id), &job.id],
        )
        .await
        .map_err(JobError::store)?
        .ok_or_else(|| JobError::permanent(Reason::MissingData, "the ticket no longer exists"))?;
    Ok(Linked {
        ticket: row.get(0),
        requester: row.get(1),
        creation: row.get(2),
        first_attempt: row.get(3),
    })
}

/// Stores the Zendesk ticket on ours and its requester as the member's
/// support user id (when the member has none), in one transaction.
async fn link(
    app: &App,
    ticket_id: Uuid,
    member: Option<Uuid>,
    t: ZdTicket,
) -> Result<(), JobError> {
    let write = async {
        let tx = app.db.begin().await?;
        tx.execute(
            "UPDATE tickets SET zendesk_ticket_id = $2, zendesk_requester_id = $3 WHERE id = $1",
            &[&ticket_id, &t.id, &t.requester_id],
        )
        .await?;
        if let (Some(member), Some(requester)) = (member, t.requester_id) {
            crate::members::synced::record_support_user(&tx, member, &requester.to_string())
                .await?;
        }
        tx.commit().await?;
        anyhow::Ok(())
    };
    write.await.map_err(|e| JobError::store(format!("{e:#}")))
}

crate::one_job_at_a_time!(
    /// The `zendesk_ticket` job kind's way out (registered in `jobs::registry`).
    ZendeskTicket,
    deliver
);
