// Package topics is the contract between the parts of ultimate-ticket and the teams
// downstream: topic names and configurations, the partition key rule, the command and
// event messages with their encoding, and creating and validating the topics at
// startup.
//
// Commands and events are keyed by zone id and partitioned with Kafka's default
// murmur2 partitioner, and both topics have the same partition count, so partition p
// of the commands topic and partition p of the events topic hold the same zones.
package topics
