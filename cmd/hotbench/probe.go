package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ultimate-ticket/ultimate-ticket/internal/hotbench"
	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkaprobe"
)

// probeTopic is the topic of Kafka's ceiling probe; the probe removes it.
const probeTopic = "hotbench-probe"

// probe is Kafka's ceiling on one partition (the hot zone's) for the pipeline's
// record size, measured by internal/kafkaprobe.
func probe(ctx context.Context, brokers []string, recordBytes, records int) (hotbench.KafkaCeiling, error) {
	r, err := kafkaprobe.Run(ctx, kafkaprobe.Config{Brokers: brokers, Topic: probeTopic, Partitions: 1,
		RecordBytes: recordBytes, Records: records, Progress: os.Stdout})
	if err != nil {
		return hotbench.KafkaCeiling{}, fmt.Errorf("kafkaprobe: %w", err)
	}
	return hotbench.KafkaCeiling{RecordBytes: recordBytes, Records: r.Records, ProducePerSec: r.ProducePerSec,
		ConsumePerSec: r.ConsumePerSec, MBPerSec: r.MBPerSec}, nil
}
