// Package sink writes the events topic into the Postgres read model, exactly once
// and in batches. It is the read model's only writer.
//
// A Sink is a Kafka consumer group member on the events topic (read_committed, no
// auto-commit). Its position lives in Postgres, in sink_offsets, next to the rows it
// derived: every batch is one Postgres transaction that writes the batch's rows and
// the new next_offset of every partition in it, so a crash at any point neither
// loses nor double-applies an event. On assignment a partition starts at its stored
// next_offset (or at the beginning when it has none); Kafka's committed offsets are
// only written for lag dashboards and never read.
//
// A batch is collapsed in Go before it is written (per hold its final state, per
// zone its newest inventory) and each table is written with one set-based statement
// (INSERT ... SELECT FROM unnest(...)), all pipelined in one round trip.
//
// Records that cannot be decoded or that fail the sink's checks go to the
// dead-letter topic with the reason; the offsets move past them, and the pipeline
// goes on.
package sink
