// Command consume-events prints the records of the ticket.events topic: the
// outcomes of the commands (a hold placed, confirmed, released or expired, a request
// rejected or replayed, a zone configured), one line per record: partition/offset,
// key (the zone id), type, id and the JSON body. It uses only franz-go and the
// standard library, as any downstream team could.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "localhost:9092", "comma-separated seed brokers")
	topic := flag.String("topic", "ticket.events", "events topic")
	fromStart := flag.Bool("from-start", false, "read from the oldest record instead of only new ones")
	idle := flag.Duration("exit-idle", 0, "exit after this long without records (0: run until interrupted)")
	flag.Parse()

	start := kgo.NewOffset().AtEnd()
	if *fromStart {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(start),
		// The processor writes in Kafka transactions: read only committed records.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if *idle > 0 {
			pollCtx, cancel = context.WithTimeout(ctx, *idle)
		}
		fetches := cl.PollFetches(pollCtx)
		timedOut := pollCtx.Err() != nil
		cancel()
		if ctx.Err() != nil || (timedOut && fetches.NumRecords() == 0) {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				log.Printf("fetch %s/%d: %v", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			switch h["ce_type"] {
			case "zone.configured", "hold.placed", "hold.confirmed", "hold.released",
				"hold.expired", "request.rejected", "request.replayed":
				fmt.Printf("%d/%d %s %s %s %s\n", r.Partition, r.Offset, r.Key, h["ce_type"], h["ce_id"], r.Value)
			default:
				// Types added later keep schema v1: skip what you do not know.
			}
		})
	}
}
