//! The founder's app: member webhooks out (Standard Webhooks signed, in
//! `sequence` order per member).

pub mod webhook;

pub use webhook::deliver;
