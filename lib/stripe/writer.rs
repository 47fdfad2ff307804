//! The group commit of Stripe events ([`crate::db::group_commit`]): verified
//! events arriving concurrently in one instance are written by ONE
//! transaction per batch ([`super::batch`]). No two events of a batch share
//! an id or an identity, so each member sees its events one transaction
//! after the other, in arrival order.

use serde_json::Value;
use tokio::sync::oneshot;

use super::batch::{self, Item};
use super::event::{fact, RawEvent};
use super::ingest::{IngestError, Ingested, Via};
use crate::db::events::Payload;
use crate::db::group_commit::{Batch, GroupCommit};
use crate::state::App;

pub use crate::db::group_commit::MAX_BATCH;

/// Stripe events as a [`Batch`].
pub struct StripeEvents;

impl Batch for StripeEvents {
    type Item = Item;

    fn keys(item: &Item) -> Vec<String> {
        item.keys()
    }

    fn run(app: &App, items: Vec<Item>) -> impl std::future::Future<Output = ()> + Send {
        batch::run(app, items)
    }

    fn group(app: &App) -> &GroupCommit<Self> {
        &app.stripe_writer.group
    }
}

/// The queue and the watchdog's marker (one per instance, in [`App`]).
#[derive(Default)]
pub struct Writer {
    /// The queue and its counters.
    pub(crate) group: GroupCommit<StripeEvents>,
    /// The watchdog's "a delivery verified" marker, written per minute.
    pub(crate) verified: crate::watchdog::signals::VerifiedMarker,
}

impl Writer {
    /// Stores one verified event with the others waiting; the answer comes
    /// once its batch has committed.
    pub async fn ingest(
        &self,
        app: &App,
        event: RawEvent,
        payload: Payload,
        via: Via,
    ) -> Result<Ingested, IngestError> {
        let (reply, answer) = oneshot::channel();
        let item = Item {
            fact: fact(&event).map_err(|e| e.to_string()),
            event,
            payload,
            via,
            reply,
        };
        self.group.submit(app, item);
        answer.await.unwrap_or_else(|_| {
            Err(IngestError::Store(anyhow::anyhow!(
                "the Stripe writer stopped before answering"
            )))
        })
    }

    /// This instance's batches since it started (the admin overview's
    /// `stripe_writer`): see [`GroupCommit::stats`].
    pub fn stats(&self) -> Value {
        self.group.stats()
    }
}
