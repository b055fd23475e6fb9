// Package queue is the waiting room's writer: a pure, deterministic state machine
// for the rooms of the events one partition holds. Like processor/zone it takes the
// partition clock and a command and returns outcomes; besides, it returns the
// commands it forwards to zones (admission holds, debited). Its changes go to the
// partition's changelog beside the zones' (record kinds of their own), drained once
// per transaction, and a state is restored by replaying them.
//
// A room takes joins from OpensAt; those before StartsAt form the pre-queue, which
// is shuffled at StartsAt with a seed anyone can recompute (ADR 9); later joiners
// queue first come, first served. Admissions leave the head of the line at the
// room's rate on the partition clock, or automatically while the unspent allowance
// of live admissions is below the tickets left.
package queue
