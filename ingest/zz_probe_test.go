package ingest

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func TestZZProbe(t *testing.T) {
	b := os.Getenv("PROBE_BROKERS")
	if b == "" {
		t.Skip()
	}
	zone := uuid.New()
	for _, v := range []string{"ingest", "nolz4", "ingest"} {
		p, err := New(Config{Brokers: []string{b}}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if v == "nolz4" {
			p.cl.Close()
			p.cl, _ = kgo.NewClient(kgo.SeedBrokers(b), kgo.DefaultProduceTopic("ticket.commands"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
		}
		var d []time.Duration
		for i := 0; i < 300; i++ {
			cmd := &topics.Command{Version: topics.SchemaVersion, Type: topics.CmdPlaceHold, RequestID: uuid.Must(uuid.NewV7()),
				EventID: uuid.New(), ZoneID: zone, IdempotencyKey: uuid.NewString(), SubmittedAt: time.Now().UTC(), Place: &topics.PlaceHold{Quantity: 1}}
			s := time.Now()
			if err := p.Publish(context.Background(), cmd); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(s))
			time.Sleep(time.Millisecond)
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		t.Logf("%s: p50 %v p90 %v max %v", v, d[len(d)/2], d[len(d)*9/10], d[len(d)-1])
		p.Close()
	}
}
