package kafkaprobe

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Proves on an in-process Kafka (kfake) that every record produced is consumed
// back, over several partitions, and that the topic the probe created is deleted.
func TestRunFake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	var progress bytes.Buffer
	res, err := Run(context.Background(), Config{Brokers: brokers, Topic: "probe", Partitions: 3,
		RecordBytes: 120, Records: 5_000, BufferedRecordsMax: 500, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, 5_000, 120)
	if topicExists(t, brokers, "probe") {
		t.Error("the probe's topic is still there")
	}
}

// Proves that on a topic that exists the probe reads back only its own records
// and keeps the topic.
func TestRunExistingTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "existing"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	cfg := Config{Brokers: brokers, Topic: "existing", RecordBytes: 50, Records: 1_000}
	for range 2 {
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, 1_000, 50)
	}
	if !topicExists(t, brokers, "existing") {
		t.Error("the existing topic was deleted")
	}
}

// Proves on a real Kafka that every record produced is consumed back, on one
// partition (a hot zone).
func TestRunKafka(t *testing.T) {
	brokers := testenv.Kafka(t)
	var progress bytes.Buffer
	res, err := Run(context.Background(), Config{Brokers: brokers, Records: 20_000, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, 20_000, RecordBytesDefault)
	t.Logf("%+v", res)
}

// Proves that Validate names each setting that cannot work.
func TestValidate(t *testing.T) {
	err := Config{Partitions: -1, RecordBytes: RecordBytesMax + 1, Records: -1}.Validate()
	for _, s := range []string{"Brokers", "Partitions", "RecordBytes", "Records"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Validate: %v, want it to name %s", err, s)
		}
	}
	if err := (Config{Brokers: []string{"b:9092"}}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func checkResult(t *testing.T, res Result, records, bytes int) {
	t.Helper()
	if res.Records != records || res.ProduceSeconds <= 0 || res.ConsumeSeconds <= 0 ||
		res.ProducePerSec <= 0 || res.ConsumePerSec <= 0 || res.MBPerSec <= 0 {
		t.Errorf("result %+v", res)
	}
	if got := res.MBPerSec * 1e6 / res.ProducePerSec; got < float64(bytes)-0.01 || got > float64(bytes)+0.01 {
		t.Errorf("MBPerSec %v for %v records/s of %d bytes", res.MBPerSec, res.ProducePerSec, bytes)
	}
}

func topicExists(t *testing.T, brokers []string, topic string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := details[topic]
	return ok && d.Err == nil
}
