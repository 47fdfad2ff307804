//! The HTTP layer shared by every function: error bodies, auth, background
//! work, the tower-http stack, and the ONE adapter to `vercel_runtime`.

pub mod auth;
pub mod background;
pub mod error;
pub mod json;
pub mod layers;
pub mod vercel;

pub use background::Background;
pub use error::ApiError;
pub use json::escaped_json;
pub use layers::finish;
