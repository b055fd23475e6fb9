// Package payment is the boundary to payment providers: the Provider interface the
// API and the payments worker use (intents, cancellations, refunds, the succeeded
// payments of a time range for reconciliation), its Stripe adapter, a Fake for tests,
// the webhook: a verified provider event turned into the one command the single
// writer decides, and the refund outbox of admin refunds with the Restocker that
// finishes those a crash left half-done (docs/adr/0008-payments.md).
package payment
