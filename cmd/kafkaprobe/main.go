// Command kafkaprobe measures the raw ceiling of Kafka on this machine for a record
// size (package kafkaprobe) and prints it, as text and as one line of JSON.
//
//	kafkaprobe [-brokers localhost:9092] [-records 1000000] [-record-bytes 300] [-partitions 1] [-topic name]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkaprobe"
)

func main() {
	brokers := flag.String("brokers", envOr("KAFKA_BROKERS", "localhost:9092"), "Kafka seed brokers, comma-separated (default $KAFKA_BROKERS)")
	records := flag.Int("records", kafkaprobe.RecordsDefault, "records to produce and consume")
	recordBytes := flag.Int("record-bytes", kafkaprobe.RecordBytesDefault, "bytes of each record's value")
	partitions := flag.Int("partitions", kafkaprobe.PartitionsDefault, "partitions of the topic (1: a hot zone)")
	topic := flag.String("topic", "", "topic to use (default: a new topic, deleted at the end)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := kafkaprobe.Config{Brokers: strings.Split(*brokers, ","), Topic: *topic, Partitions: int32(*partitions),
		RecordBytes: *recordBytes, Records: *records, Progress: os.Stderr}
	res, err := kafkaprobe.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafkaprobe: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("records %d of %d bytes on %d partition(s)\n", res.Records, *recordBytes, *partitions)
	fmt.Printf("produce %.0f records/s (%.1f MB/s) in %.2fs\n", res.ProducePerSec, res.MBPerSec, res.ProduceSeconds)
	fmt.Printf("consume %.0f records/s in %.2fs\n", res.ConsumePerSec, res.ConsumeSeconds)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
