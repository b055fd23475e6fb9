// Package topics is the contract between the parts of ultimate-ticket and the teams
// downstream: topic names and their declared configuration, the partition key rule,
// the command and outcome messages with their encoding and JSON Schemas, and the
// limits every command must keep. It is plain types and encoding: it needs no Kafka
// client (internal/kafkarec makes records of its messages, internal/topology creates
// and checks the topics).
//
// Commands and outcomes are keyed by zone id and partitioned with Kafka's default
// murmur2 partitioner, and the commands, events and state topics have the same
// partition count, so partition p of each holds the same zones. A waiting room's
// commands and outcomes are keyed by its event id instead (Command.Key, OutcomeKey):
// an event's queue lives on PartitionOf(eventID, n), beside the zones that hash there.
package topics
