//! The group commit of the app's events ([`crate::db::group_commit`]):
//! valid events arriving concurrently in one instance are written by ONE
//! transaction per batch ([`super::batch`]). No two events of a batch share
//! an id or an identity (user id, email), so each member sees its events
//! one transaction after the other, in arrival order.

use tokio::sync::oneshot;

use super::batch::{self, Item};
use super::events::AppEvent;
use super::ingest::{Ingested, MemberEventError};
use crate::db::group_commit::{Batch, GroupCommit};
use crate::state::App;

/// App events as a [`Batch`].
pub struct AppEvents;

impl Batch for AppEvents {
    type Item = Item;

    fn keys(item: &Item) -> Vec<String> {
        item.keys()
    }

    fn run(app: &App, items: Vec<Item>) -> impl std::future::Future<Output = ()> + Send {
        batch::run(app, items)
    }

    fn group(app: &App) -> &GroupCommit<Self> {
        &app.app_event_writer
    }
}

/// Stores one valid app event with the others waiting; the answer comes
/// once its batch has committed.
pub async fn ingest(app: &App, event: AppEvent) -> Result<Ingested, MemberEventError> {
    let (reply, answer) = oneshot::channel();
    app.app_event_writer.submit(app, Item { event, reply });
    answer.await.unwrap_or_else(|_| {
        Err(MemberEventError::Store(anyhow::anyhow!(
            "the app event writer stopped before answering"
        )))
    })
}
