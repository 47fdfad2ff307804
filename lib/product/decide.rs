//! What one app event does to its member, decided in memory from the
//! members its identities found (locked) and the newest app event already
//! applied to each: the same code for an event in a batch
//! ([`super::batch`]) and for one alone ([`super::ingest`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{AppEvent, AppEventType};
use crate::members::link::{resolve_found, Found};
use crate::members::{Identity, Member};

/// The `created` of the newest app event applied to each member (the stale
/// rule), as read by [`NEWEST_SQL`].
pub type Newest = HashMap<Uuid, DateTime<Utc>>;

/// One parameter of a statement sent alongside the lookup.
pub type Params<'a> = [&'a (dyn tokio_postgres::types::ToSql + Sync); 1];

/// The newest applied app event of each live member holding one of the
/// user ids `$1`: a late `user.updated` must not overwrite a newer email.
/// Sent behind the identity locks, so it sees what the previous holder of
/// a lock committed.
pub const NEWEST_SQL: &str = "SELECT member_id, max(created) FROM events \
     WHERE source = 'app' AND outcome = 'applied' AND member_id IN \
       (SELECT id FROM members WHERE app_user_id = ANY($1) AND app_user_id IS NOT NULL \
          AND merged_into IS NULL) \
     GROUP BY member_id";

/// A member to write: as stored and with an event applied.
#[derive(Debug)]
pub struct Write {
    /// As stored (`None`: created by this event).
    pub before: Option<Member>,
    /// With the event applied.
    pub member: Member,
    /// `applied` or `stale`.
    pub outcome: &'static str,
}

/// What an event does to its member.
#[derive(Debug)]
pub enum Decided {
    /// Write the member.
    Write(Box<Write>),
    /// The email belongs to another member (another account): refused,
    /// nothing written.
    EmailTaken,
    /// Several live members hold its identities: left to
    /// `members::resolve` (which merges), in a transaction of its own.
    Several,
}

/// The identities an app event carries.
pub fn identity(event: &AppEvent) -> Identity {
    Identity {
        user_id: event.user_id.as_ref().map(|u| u.as_str().to_string()),
        email: Some(event.email.as_str().to_string()),
        name: event.name.clone(),
        customer_id: None,
    }
}

/// Decides `event` among `found` (live members holding any identity of it,
/// and maybe of other events of its batch).
pub fn decide(event: &AppEvent, found: &[Member], newest: &Newest, now: DateTime<Utc>) -> Decided {
    let id = identity(event);
    if let Some(user_id) = &id.user_id {
        match known_user(found, user_id, event) {
            Err(()) => return Decided::EmailTaken,
            Ok(Some(m)) => {
                let stale = match (event.occurred_at, newest.get(&m.id)) {
                    (Some(at), Some(newer)) => *newer > at,
                    _ => false,
                };
                let mut member = m.clone();
                if !stale {
                    apply_profile(&mut member, event);
                }
                let outcome = if stale { "stale" } else { "applied" };
                return Decided::Write(Box::new(Write {
                    before: Some(m.clone()),
                    member,
                    outcome,
                }));
            }
            Ok(None) => {}
        }
    }
    match resolve_found(found, &id, now) {
        Found::Several => Decided::Several,
        Found::Nobody => unreachable!("an app event always has an email"),
        Found::One(r) if id.user_id.is_some() && r.member.app_user_id != id.user_id => {
            Decided::EmailTaken
        }
        // `resolve_found` fills missing identities in memory only: the
        // stored row is the true "before", so linking a user id counts as a
        // change.
        Found::One(r) => Decided::Write(Box::new(Write {
            before: r.before,
            member: r.member,
            outcome: "applied",
        })),
    }
}

/// The live member holding `user_id`; `Err` when the event's email belongs
/// to another live member that is, or may be, someone else.
fn known_user<'a>(
    found: &'a [Member],
    user_id: &str,
    event: &AppEvent,
) -> Result<Option<&'a Member>, ()> {
    let email = event.email.as_str().to_lowercase();
    let by_user = found
        .iter()
        .find(|m| m.app_user_id.as_deref() == Some(user_id));
    let holder = found.iter().find(|m| {
        m.app_user_id.as_deref() != Some(user_id)
            && m.email.as_ref().is_some_and(|e| e.to_lowercase() == email)
    });
    match (by_user, holder) {
        (Some(_), Some(_)) => Err(()),
        (None, Some(h)) if h.app_user_id.is_some() => Err(()),
        (by_user, _) => Ok(by_user),
    }
}

/// `user.updated` sets the email and name; a repeated signup or a lead only
/// fills what the member lacks (first contact does not rewrite a profile).
fn apply_profile(m: &mut Member, event: &AppEvent) {
    let email = Some(event.email.as_str().to_string());
    if event.kind == AppEventType::Updated {
        m.email = email;
        m.name = event.name.clone().or(m.name.take());
    } else {
        m.email = m.email.take().or(email);
        m.name = m.name.take().or(event.name.clone());
    }
}
