// Package classic is the baseline ultimate-ticket is measured against: the classic
// design of a ticketing service, one SQL transaction per hold with a row lock on the
// zone, behind the same HTTP contract as the pipeline's API for what a load generator
// uses (POST /events, POST /holds, POST /holds/batch, GET /holds/{id},
// GET /events/{id}/availability, GET /ready, GET /health).
//
// A hold is one transaction of two statements: an INSERT of the hold that does
// nothing when its idempotency key is already taken in the zone (then the first hold
// is answered again), and an UPDATE of the zone's row that takes the tickets only if
// enough are available. The UPDATE's row lock serializes every hold of a zone until
// the commit; it comes last so that the lock is held for the commit only.
// Every answer is final: the server never answers 202 and ignores `Prefer: wait`.
//
// Its tables live in their own schema, classic, created at start-up, so it can share
// the pipeline's Postgres without touching the pipeline's tables.
//
// It is a baseline for benchmarks, not a second product: there is no expiry worker
// (holds keep their expires_at but stay active), no confirm or release, no per-customer
// limit, and a rejected request leaves no record (a retry of its key is decided anew).
package classic
