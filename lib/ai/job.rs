//! The `ai_draft` outbox job: enqueued by the support intake (in its
//! transaction) or by `POST /api/ai/draft`, run after the response and by
//! the sweep. One attempt: load the ticket, build the prompt, spend the
//! budget, call the model, parse, apply the guardrails, store the draft and
//! add the category tag. The model's output never changes member state,
//! priority, access, billing or ownership: the draft row and one tag are
//! all it can write. When the job dies, the ticket goes to a person
//! (`needs_human`, reason `ai_failed`): the intake is never blocked by AI.

use crate::db::Sql;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::budget::{self, Budget};
use super::{guard, openai, prompt, store};
use crate::jobs::{enqueue, Job, JobError, JobKind, NewJob, Reason};
use crate::state::App;

/// Ticket reason when the budget stopped a draft.
pub const REASON_BUDGET: &str = "ai_budget";
/// Ticket reason when drafting failed for good.
pub const REASON_FAILED: &str = "ai_failed";

/// The job's dedupe key: one draft job per ticket contact.
pub fn dedupe_key(ticket_id: Uuid, n: i32) -> String {
    format!("ai_draft:{ticket_id}:{n}")
}

/// Enqueues drafting of contact `n` in the caller's transaction.
pub async fn enqueue_draft(
    tx: &impl Sql,
    ticket_id: Uuid,
    n: i32,
    member_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let job = NewJob {
        kind: JobKind::AiDraft,
        dedupe_key: dedupe_key(ticket_id, n),
        payload: json!({ "ticket_id": ticket_id, "contact_n": n }),
        member_id,
        sequence: None,
    };
    enqueue(tx, job, now).await
}

/// The intake's hook: enqueues `ai_draft` for a new contact when OpenAI is
/// configured, its kill switch is on, and the ticket carries none of
/// `AI_SKIP_TAGS` (default `dispute`, `security`, `legal`: a person answers
/// those from scratch). Never changes the ticket.
pub async fn enqueue_for_ticket(
    app: &App,
    tx: &impl Sql,
    ticket_id: Uuid,
    n: i32,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(JobKind, i64)>> {
    if app.config.openai.is_none() {
        return Ok(None);
    }
    if crate::flags::paused(tx)
        .await?
        .iter()
        .any(|p| p == "openai")
    {
        return Ok(None);
    }
    let row = tx
        .query_opt(
            "SELECT tags, member_id FROM tickets WHERE id = $1",
            &[&ticket_id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let tags: Vec<String> = row.get(0);
    if tags.iter().any(|t| app.config.ai.skip_tags.contains(t)) {
        return Ok(None);
    }
    let id = enqueue_draft(tx, ticket_id, n, row.get(1), now).await?;
    Ok(id.map(|id| (JobKind::AiDraft, id)))
}

/// A database failure inside the job: retried, reason `store`.
fn db_failed(e: anyhow::Error) -> JobError {
    JobError::store(format!("{e:#}"))
}

/// The ticket and contact a job names.
fn target(job: &Job) -> Option<(Uuid, i32)> {
    let ticket_id = job.payload["ticket_id"].as_str()?;
    let n = job.payload["contact_n"].as_i64()?;
    Some((Uuid::parse_str(ticket_id).ok()?, i32::try_from(n).ok()?))
}

/// Loads what drafting the job's contact needs.
async fn load(app: &App, job: &Job) -> Result<(Uuid, i32, store::TicketContext), JobError> {
    let (ticket_id, n) =
        target(job).ok_or_else(|| JobError::permanent(Reason::MissingData, "job has no ticket"))?;
    let ctx = async {
        let client = app.db.get().await?;
        store::context(&client, ticket_id, n).await
    }
    .await
    .map_err(db_failed)?
    .ok_or_else(|| JobError::permanent(Reason::MissingData, "the ticket or contact is gone"))?;
    Ok((ticket_id, n, ctx))
}

/// Runs one `ai_draft` job (see the module doc).
pub async fn draft(app: &App, job: &Job) -> Result<(), JobError> {
    let Some(cfg) = &app.config.openai else {
        return Err(JobError::permanent(
            Reason::NotConfigured,
            "openai is not configured",
        ));
    };
    let (ticket_id, n, ctx) = load(app, job).await?;
    if ctx.drafted {
        return Ok(());
    }
    let prompt = prompt::build(&ctx.prompt_input());
    let now = app.clock.now();
    let tokens = prompt.estimated_tokens();
    match budget::spend(&app.kv, &app.config.ai, ctx.member_id, tokens, now).await {
        Budget::Within => {}
        Budget::Over(which) => return skip_over_budget(app, job, ticket_id, which).await,
        Budget::Unknown => {
            return Err(JobError::Retryable {
                reason: Reason::AiBudget,
                status: None,
                retry_after: None,
                message: "budget store unavailable: no model call (fail closed)".into(),
            })
        }
    }
    let c = openai::complete(&app.http, cfg, &prompt, ctx.member_id, now).await?;
    let allowlist = &app.config.ai.link_allowlist;
    let verdict = guard::decide(ctx.needs_human, &ctx.customer_text(), &c.draft, allowlist);
    save(app, ticket_id, n, &c, &verdict)
        .await
        .map_err(db_failed)?;
    tracing::info!(
        job_id = job.id, ticket_id = %ticket_id, status = verdict.status.as_str(),
        reasons = ?verdict.reasons, latency_ms = c.latency_ms, prompt_tokens = c.prompt_tokens,
        completion_tokens = c.completion_tokens, "ai draft stored"
    );
    Ok(())
}

/// Over budget: no call; the ticket goes to a person; the job succeeds.
async fn skip_over_budget(
    app: &App,
    job: &Job,
    ticket_id: Uuid,
    which: &str,
) -> Result<(), JobError> {
    async {
        let client = app.db.get().await?;
        store::flag_ticket(&client, ticket_id, REASON_BUDGET, app.clock.now()).await
    }
    .await
    .map_err(db_failed)?;
    tracing::warn!(job_id = job.id, ticket_id = %ticket_id, budget = which, outcome = "skipped", "ai budget exhausted: no model call, ticket flagged for a person");
    Ok(())
}

/// Stores the draft and the category tag in one transaction.
async fn save(
    app: &App,
    ticket_id: Uuid,
    n: i32,
    c: &openai::Completion,
    v: &guard::Verdict,
) -> anyhow::Result<()> {
    let tx = app.db.begin().await?;
    let now = app.clock.now();
    if store::insert(&tx, ticket_id, n, c, v, now).await?.is_some() {
        let tag = format!("ai:{}", c.draft.category.as_str());
        store::add_tag(&tx, ticket_id, &tag).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A dead `ai_draft` job: its ticket goes to a person (`ai_failed`), in the
/// transaction that records the death.
pub async fn on_dead(tx: &impl Sql, job: &Job, now: DateTime<Utc>) -> anyhow::Result<()> {
    match target(job) {
        Some((ticket_id, _)) => store::flag_ticket(tx, ticket_id, REASON_FAILED, now).await,
        None => Ok(()),
    }
}

/// The `ai_draft` job kind's way out (registered in `jobs::registry`).
pub struct AiDraft;

impl crate::jobs::delivery::Delivery for AiDraft {
    fn deliver<'a>(
        &'a self,
        app: &'a App,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), JobError>> {
        Box::pin(draft(app, job))
    }

    /// A dead draft job sends its ticket to a person (`ai_failed`).
    fn on_dead<'a>(
        &'a self,
        tx: &'a crate::db::Tx,
        job: &'a Job,
        now: DateTime<Utc>,
    ) -> futures::future::BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(on_dead(tx, job, now))
    }
}
