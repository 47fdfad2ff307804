//! What a handled Stripe event means for a member ([`Fact`]), and who it is
//! about ([`Fact::identity`]). Built by [`super::facts::fact`] from the
//! event object, already validated; never from `metadata`.

use chrono::{DateTime, Utc};

use crate::members::Identity;

/// A subscription status we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// `trialing`.
    Trialing,
    /// `active`.
    Active,
    /// `past_due` or `unpaid`.
    PastDue,
    /// `paused`: no invoices and no access until resumed.
    Paused,
    /// `canceled` or `incomplete_expired` (no paid access).
    Ended,
    /// `incomplete`: first payment pending; no change.
    Incomplete,
}

impl SubStatus {
    /// Reads Stripe's `status`; `None` for a value we do not know.
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" | "unpaid" => Self::PastDue,
            "paused" => Self::Paused,
            "canceled" | "incomplete_expired" => Self::Ended,
            "incomplete" => Self::Incomplete,
            _ => return None,
        })
    }
}

/// An open invoice the customer is asked to act on (a failed payment, or a
/// payment the bank wants confirmed).
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceDue {
    /// Customer id.
    pub customer: String,
    /// Invoice id.
    pub invoice: String,
    /// Invoice email.
    pub email: Option<String>,
    /// Customer name on the invoice.
    pub name: Option<String>,
    /// Stripe's hosted page to pay (or confirm) the invoice.
    pub hosted_invoice_url: Option<String>,
    /// Amount due, minor units.
    pub amount_due: i64,
    /// Currency (lower case ISO).
    pub currency: String,
}

/// What a handled event means.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// `checkout.session.completed`, `checkout.session.async_payment_succeeded`.
    Checkout {
        /// Customer id, if the session created or used one.
        customer: Option<String>,
        /// The app's user id (`client_reference_id`).
        user_id: Option<String>,
        /// Customer email.
        email: Option<String>,
        /// Customer name.
        name: Option<String>,
        /// Paid now (`paid`) or a trial (`no_payment_required`); `unpaid`
        /// (a bank debit that settles later) is neither.
        paid: bool,
        /// A subscription checkout with nothing to pay (a trial).
        trial: bool,
    },
    /// `checkout.session.async_payment_failed`: the delayed payment of a
    /// completed checkout did not go through.
    CheckoutFailed {
        /// Checkout Session id.
        session: String,
        /// Customer id, if any.
        customer: Option<String>,
        /// The app's user id (`client_reference_id`).
        user_id: Option<String>,
        /// Customer email.
        email: Option<String>,
    },
    /// `customer.subscription.created/updated/deleted/paused/resumed`.
    Subscription {
        /// Customer id.
        customer: String,
        /// Status (deleted → `Ended`, paused → `Paused`).
        status: SubStatus,
        /// Plan name.
        plan: Option<String>,
        /// Current period (or trial) end.
        period_end: Option<DateTime<Utc>>,
    },
    /// `customer.subscription.trial_will_end`.
    TrialWillEnd {
        /// Customer id.
        customer: String,
    },
    /// `customer.created/updated`.
    Customer {
        /// Customer id.
        customer: String,
        /// Email.
        email: Option<String>,
        /// Name.
        name: Option<String>,
    },
    /// `customer.deleted`: recorded; the member keeps the customer id.
    CustomerDeleted {
        /// Customer id.
        customer: String,
    },
    /// `invoice.paid` / `invoice.payment_succeeded`.
    InvoicePaid {
        /// Customer id.
        customer: String,
        /// Invoice id.
        invoice: String,
        /// Invoice email.
        email: Option<String>,
        /// Amount paid, minor units.
        amount_paid: i64,
    },
    /// `invoice.payment_failed`.
    InvoiceFailed {
        /// The invoice.
        due: InvoiceDue,
        /// `next_payment_attempt` is null: Stripe will not retry.
        final_attempt: bool,
    },
    /// `invoice.payment_action_required`: the bank asks the customer to
    /// confirm the payment (3-D Secure and the like).
    InvoiceActionRequired(InvoiceDue),
    /// `charge.refunded`.
    Refund {
        /// Customer id, if any.
        customer: Option<String>,
        /// Charge id.
        charge: String,
        /// Amount refunded, minor units.
        amount_refunded: i64,
        /// Currency.
        currency: String,
    },
    /// `charge.dispute.created` (`status` None) or `charge.dispute.closed`
    /// (`status` the outcome: `won`, `lost`, `warning_closed`, ...).
    Dispute {
        /// Dispute id.
        dispute: String,
        /// Customer id, when the charge was expanded.
        customer: Option<String>,
        /// Email from the dispute evidence, if any.
        email: Option<String>,
        /// Charge id.
        charge: String,
        /// Amount disputed, minor units.
        amount: i64,
        /// Currency.
        currency: String,
        /// Stripe's dispute reason.
        reason: String,
        /// The outcome, for a closed dispute.
        closed: Option<String>,
    },
    /// A type we store but do not act on.
    Unhandled,
}

impl Fact {
    /// Who the fact is about, as far as it tells.
    pub fn identity(&self) -> Identity {
        let mut id = Identity::default();
        match self {
            Fact::Checkout {
                customer,
                user_id,
                email,
                name,
                ..
            } => {
                (id.customer_id, id.user_id, id.email, id.name) = (
                    customer.clone(),
                    user_id.clone(),
                    email.clone(),
                    name.clone(),
                )
            }
            Fact::CheckoutFailed {
                customer,
                user_id,
                email,
                ..
            } => {
                (id.customer_id, id.user_id, id.email) =
                    (customer.clone(), user_id.clone(), email.clone())
            }
            Fact::Subscription { customer, .. }
            | Fact::TrialWillEnd { customer }
            | Fact::CustomerDeleted { customer } => id.customer_id = Some(customer.clone()),
            Fact::Customer {
                customer,
                email,
                name,
            } => {
                (id.customer_id, id.email, id.name) =
                    (Some(customer.clone()), email.clone(), name.clone())
            }
            Fact::InvoicePaid {
                customer, email, ..
            } => (id.customer_id, id.email) = (Some(customer.clone()), email.clone()),
            Fact::InvoiceFailed { due, .. } | Fact::InvoiceActionRequired(due) => {
                (id.customer_id, id.email, id.name) = (
                    Some(due.customer.clone()),
                    due.email.clone(),
                    due.name.clone(),
                )
            }
            Fact::Refund { customer, .. } => id.customer_id = customer.clone(),
            Fact::Dispute {
                customer, email, ..
            } => (id.customer_id, id.email) = (customer.clone(), email.clone()),
            Fact::Unhandled => {}
        }
        id
    }

    /// True for facts that ask for a state (so an older one is `stale`).
    pub fn is_about_state(&self) -> bool {
        matches!(
            self,
            Fact::Checkout { .. }
                | Fact::Subscription { .. }
                | Fact::InvoicePaid { .. }
                | Fact::InvoiceFailed { .. }
        )
    }
}
