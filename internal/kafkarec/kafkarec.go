// Package kafkarec turns the contract's messages (topics.Message) into franz-go
// records, and records into dead letters. It is the one place where the contract
// meets the Kafka client's types, so that topics needs no Kafka client and the
// processor, the sink and the API's publisher build their records alike.
package kafkarec

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Record is the record that carries m on topic; the partition is the producer's
// partitioner's unless the caller sets it.
func Record(topic string, m topics.Message) *kgo.Record {
	headers := make([]kgo.RecordHeader, len(m.Headers))
	for i, h := range m.Headers {
		headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return &kgo.Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: headers}
}

// DeadLetter wraps a record that could not be processed, with the reason, for the
// dead-letter topic named topic: its key, value and headers, behind headers that say
// why and where it came from (topics.DeadLetterHeaders).
func DeadLetter(topic string, r *kgo.Record, reason string) *kgo.Record {
	dl := Record(topic, topics.Message{Key: r.Key, Value: r.Value,
		Headers: topics.DeadLetterHeaders(reason, r.Topic, r.Partition, r.Offset)})
	dl.Headers = append(dl.Headers, r.Headers...)
	return dl
}

// RequestID is the request id a record carries in its topics.HeaderRequestID
// header, "" when it has none.
func RequestID(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == topics.HeaderRequestID {
			return string(h.Value)
		}
	}
	return ""
}
