//! What a Stripe event does to a member, inside the ingest transaction.
//! State changes are applied only when the event is newer than the last one
//! applied to that member (Stripe `created`, then event id), so duplicates
//! and out-of-order deliveries never regress a member.

use crate::db::Sql;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::billing;
use super::event::{Fact, SubStatus};
use super::ingest::{EventRow, Via};
use crate::members::change::{self, Cause, Enqueued};
use crate::members::store::Line;
use crate::members::{self, legal, Member, MemberState, Resolved};

/// The result of applying one event.
#[derive(Debug, Default)]
pub struct Applied {
    /// The member it concerned, if any.
    pub member_id: Option<Uuid>,
    /// `applied`, `stale` (older than the member's state: stored only) or
    /// `unhandled`.
    pub outcome: &'static str,
    /// Jobs enqueued.
    pub jobs: Enqueued,
    /// False when the events row already existed: a duplicate, to be rolled
    /// back.
    pub stored: bool,
}

/// The state a fact asks for, if it asks for one.
fn target_state(fact: &Fact, current: MemberState) -> Option<MemberState> {
    use MemberState::*;
    match fact {
        Fact::Checkout { paid: true, .. } => Some(Active),
        Fact::Checkout { trial: true, .. } => Some(Trial),
        Fact::Subscription { status, .. } => match status {
            SubStatus::Trialing => Some(Trial),
            SubStatus::Active => Some(Active),
            SubStatus::PastDue => Some(PastDue),
            SubStatus::Paused => Some(Paused),
            SubStatus::Ended => Some(Canceled),
            SubStatus::Incomplete => None,
        },
        Fact::InvoicePaid { amount_paid, .. }
            if *amount_paid > 0 && matches!(current, Lead | Trial | PastDue | Active) =>
        {
            Some(Active)
        }
        Fact::InvoiceFailed { .. } if matches!(current, Trial | Active | PastDue) => Some(PastDue),
        _ => None,
    }
}

/// Applies `fact` (from `row.event`) in `tx` and writes the events row with
/// the outcome, last (see [`EventRow`]).
pub async fn apply(
    tx: &impl Sql,
    row: &EventRow<'_>,
    fact: &Fact,
    grace_days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Applied> {
    if *fact == Fact::Unhandled {
        return Ok(Applied {
            outcome: "unhandled",
            stored: row.insert(tx, None, "unhandled").await?,
            ..Default::default()
        });
    }
    let identity = fact.identity();
    // A deleted Stripe customer never creates a member: only a known one
    // gets the line on its timeline.
    let unknown =
        matches!(fact, Fact::CustomerDeleted { .. }) && !known_customer(tx, &identity).await?;
    let resolved = if unknown {
        None
    } else {
        members::resolve(tx, &identity, now).await?
    };
    let decision = decide(resolved, row, fact, grace_days, now);
    let event = row.event;
    let Some((m, change)) = decision.member else {
        // Nothing links it to a person (e.g. a refund with no customer): the
        // human escalation still happens.
        let (jobs, stored) = tokio::try_join!(
            billing::effects(tx, None, event, fact, now),
            row.insert(tx, None, decision.outcome),
        )?;
        return Ok(Applied {
            member_id: None,
            outcome: decision.outcome,
            jobs,
            stored,
        });
    };
    // Independent writes, sent together (pipelined): one round trip.
    let (mut jobs, effects, stored) = tokio::try_join!(
        change.write(tx, &m, now, decision.lines),
        billing::effects(tx, Some(&m), event, fact, now),
        row.insert(tx, Some(m.id), decision.outcome),
    )?;
    jobs.extend(effects);
    Ok(Applied {
        member_id: Some(m.id),
        outcome: decision.outcome,
        jobs,
        stored,
    })
}

/// What one (handled) event does to its member, decided in memory: the
/// member as it will be written with its change, the timeline lines, the
/// outcome. Shared by [`apply`] (one event) and the group commit
/// ([`super::batch`]), so both decide alike.
pub struct Decision {
    /// The member and its change; `None` when no member is concerned.
    pub member: Option<(Member, change::Change)>,
    /// Lines for the member's timeline.
    pub lines: Vec<Line>,
    /// `applied` or `stale`.
    pub outcome: &'static str,
}

/// Decides what `fact` does to `resolved` (see [`Decision`]).
pub fn decide(
    resolved: Option<Resolved>,
    row: &EventRow<'_>,
    fact: &Fact,
    grace_days: i64,
    now: DateTime<Utc>,
) -> Decision {
    let event = row.event;
    let created = event.created_at();
    let Some(resolved) = resolved else {
        return Decision {
            member: None,
            lines: Vec::new(),
            outcome: "applied",
        };
    };
    // `resolve` fills missing identities in memory: the stored row is the
    // true "before", so linking a user id or customer id is an exported change.
    let Resolved {
        before,
        member: mut m,
    } = resolved;
    let newer = m.is_newer(created, &event.id);
    // The plan and period follow the newest subscription event, whatever
    // newer invoice moved the state watermark meanwhile.
    let plan_taken =
        m.is_plan_newer(created, &event.id) && take_plan(&mut m, fact, created, &event.id);
    let mut changed_state = false;
    if newer {
        changed_state = transition(&mut m, fact, created);
    }
    // A newer fact that confirms the current state (an invoice paid while
    // active) is recorded too, so an older failure delivered late is stale.
    let confirmed = newer && target_state(fact, m.state) == Some(m.state);
    // The state watermark only ever moves forward.
    if newer && (changed_state || plan_taken || confirmed) {
        m.last_event_created = Some(created);
        m.last_event_id = Some(event.id.clone());
    }
    if let Fact::Dispute { closed: None, .. } = fact {
        m.needs_support = true;
    }
    let cause = Cause {
        event_type: event.event_type.clone(),
        created,
    };
    let change = change::prepare(before.as_ref(), &mut m, grace_days, now, Some(&cause));
    let outcome = if !newer && !plan_taken && fact.is_about_state() {
        "stale"
    } else {
        "applied"
    };
    let mut lines = vec![Line {
        kind: "stripe_event",
        summary: format!("{} ({outcome})", event.event_type),
        data: json!({ "event_id": event.id, "state_changed": changed_state || plan_taken }),
        at: created,
    }];
    lines.extend(note(fact, created));
    if row.via == Via::Catchup {
        lines.push(Line {
            kind: "recovered",
            summary: format!(
                "{} recovered by the Stripe catch-up (the webhook never delivered it)",
                event.event_type
            ),
            data: json!({ "event_id": event.id }),
            at: now,
        });
    }
    Decision {
        member: Some((m, change)),
        lines,
        outcome,
    }
}

/// Takes a subscription event's plan and period (the caller checked it is
/// newer than the ones taken before): true when the event is a subscription
/// event (its watermark then moves, even if the values are the same).
fn take_plan(m: &mut Member, fact: &Fact, created: DateTime<Utc>, id: &str) -> bool {
    let Fact::Subscription {
        plan, period_end, ..
    } = fact
    else {
        return false;
    };
    if plan.is_some() {
        m.plan = plan.clone();
    }
    m.current_period_end = *period_end;
    m.plan_event_created = Some(created);
    m.plan_event_id = Some(id.to_string());
    true
}

/// Changes the state (and its past-due start); true when it changed.
fn transition(m: &mut Member, fact: &Fact, created: DateTime<Utc>) -> bool {
    let before = (m.state, m.past_due_since);
    if let Some(to) = target_state(fact, m.state) {
        if legal(m.state, to) {
            if to == MemberState::PastDue {
                m.past_due_since = m.past_due_since.or(Some(created));
            } else {
                m.past_due_since = None;
            }
            m.state = to;
        } else {
            tracing::warn!(member_id = %m.id, from = m.state.as_str(), to = to.as_str(), "illegal transition ignored");
        }
    }
    before != (m.state, m.past_due_since)
}

/// True when a live member holds the identity's Stripe customer id (its
/// lock taken first, as `resolve` takes it, so the answer holds).
async fn known_customer(tx: &impl Sql, identity: &members::Identity) -> anyhow::Result<bool> {
    let Some(customer) = &identity.customer_id else {
        return Ok(false);
    };
    members::link::lock(tx, identity).await?;
    Ok(members::store::find(tx, "stripe_customer_id", customer)
        .await?
        .is_some())
}

/// The timeline line of a fact that changes nothing but is worth reading
/// on its own (a dispute's outcome, a customer deleted in Stripe).
fn note(fact: &Fact, at: DateTime<Utc>) -> Option<Line> {
    let (summary, data) = match fact {
        Fact::Dispute {
            dispute,
            charge,
            closed: Some(outcome),
            ..
        } => (
            format!("dispute {dispute} on charge {charge} closed: {outcome}"),
            json!({ "dispute_id": dispute, "charge_id": charge, "outcome": outcome }),
        ),
        Fact::CustomerDeleted { customer } => (
            format!("Stripe customer {customer} deleted in Stripe (its id is kept for history)"),
            json!({ "stripe_customer_id": customer }),
        ),
        _ => return None,
    };
    Some(Line {
        kind: "stripe_note",
        summary,
        data,
        at,
    })
}
