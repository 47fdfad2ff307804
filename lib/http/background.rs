//! Work that runs after the response: `AppState::wait_until` on Vercel (the
//! invocation stays alive until it settles), `tokio::spawn` locally and in
//! tests. Handlers only see this handle; the outbox row stays the source of
//! truth, so background work lost to a crash is redone by the cron sweep.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A way to run a future after the response.
#[derive(Clone)]
pub struct Background(Arc<dyn Fn(BoxFuture) + Send + Sync>);

impl Background {
    /// Runs work with `spawner` (the Vercel adapter passes `wait_until`).
    pub fn new(spawner: impl Fn(BoxFuture) + Send + Sync + 'static) -> Self {
        Self(Arc::new(spawner))
    }

    /// Runs work on the tokio runtime (local server, tests).
    pub fn tokio() -> Self {
        Self::new(|f| {
            tokio::spawn(f);
        })
    }

    /// Hands `future` to the runtime; returns at once.
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        (self.0)(Box::pin(future))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Background {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Background>()
            .cloned()
            .unwrap_or_else(Background::tokio))
    }
}
