package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/ingest"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// publishDirect publishes a hold.place command the way the API does, without the
// API, and waits for its result: a retry from an API whose read model does not
// have the key yet.
func (s *system) publishDirect(t *testing.T, eventID, zoneID, key string, qty int64) {
	t.Helper()
	p, err := ingest.New(ingest.Config{Brokers: strings.Split(s.cfg.KafkaBrokers, ","),
		Topics: topics.NamesWithPrefix(s.cfg.TopicPrefix)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	zone := uuid.MustParse(zoneID)
	id := uuid.MustParse(v7At(time.Now(), int(topics.PartitionOf(zone, int32(s.cfg.Partitions)))))
	cmd := &topics.Command{Version: topics.SchemaVersion, Type: topics.CmdPlaceHold, RequestID: id,
		EventID: uuid.MustParse(eventID), ZoneID: zone, IdempotencyKey: key, SubmittedAt: time.Now().UTC(),
		Place: &topics.PlaceHold{Quantity: qty}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	if res := s.poll("/requests/" + id.String()); res["status"] == "pending" {
		t.Fatalf("directly published retry %s not decided", id)
	}
}

// TestContractEvents proves that a downstream team reading the events topic with a
// plain Kafka client (franz-go, read_committed, raw JSON, none of our decoding code)
// sees every event type the running system emits with a body valid against the JSON
// Schema its ce_type names, complete CloudEvents headers, the zone id as key, each
// zone on one partition in time order, and no duplicates; and that the example
// program in cmd/consume-events prints those same events.
func TestContractEvents(t *testing.T) {
	s := startSystem(t)
	eventID, zones := s.createEvent(3, 100) // zone.configured x2
	small, expiring := zones[0], zones[1]
	wait := []string{"Prefer", "wait=5"}

	// A short TTL on the second zone (zone.configured), then a hold left to expire
	// (hold.placed, later hold.expired) while the rest runs.
	r := s.expect(s.do("PATCH", "/events/"+eventID+"/zones/"+expiring, map[string]any{"hold_ttl_seconds": 10},
		"Authorization", "Bearer "+adminToken), http.StatusAccepted)
	if res := s.poll(r.header.Get("Location")); res["status"] != "succeeded" {
		t.Fatalf("TTL change: %v", res)
	}
	s.expect(s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": expiring, "quantity": 1,
		"idempotency_key": "contract-expire"}, wait...), http.StatusCreated)

	// hold.placed, request.replayed, request.rejected (idempotency conflict and
	// insufficient capacity), hold.confirmed, hold.placed + hold.released.
	place := func(key string, qty int, status int) response {
		return s.expect(s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": small, "quantity": qty,
			"idempotency_key": key}, wait...), status)
	}
	held := place("contract-a", 2, http.StatusCreated).json(t)["id"].(string)
	// A retry reaching the API once the read model has the key is answered from
	// it, with no event; the processor answers (and emits) only the retries that
	// come before, as from an API whose read model lags. Those are published
	// directly here.
	place("contract-a", 2, http.StatusCreated)
	place("contract-a", 1, http.StatusConflict)
	s.publishDirect(t, eventID, small, "contract-a", 2) // request.replayed
	s.publishDirect(t, eventID, small, "contract-a", 1) // request.rejected, idempotency_conflict
	place("contract-b", 2, http.StatusConflict)
	s.expect(s.do("POST", "/holds/"+held+"/confirm", nil, "Idempotency-Key", "contract-confirm", "Prefer", "wait=5"), http.StatusCreated)
	released := place("contract-c", 1, http.StatusCreated).json(t)["id"].(string)
	s.expect(s.do("DELETE", "/holds/"+released, nil, wait...), http.StatusOK)

	want := map[string]int{
		"zone.configured": 3, "hold.placed": 3, "request.replayed": 1, "request.rejected": 2,
		"hold.confirmed": 1, "hold.released": 1, "hold.expired": 1,
	}
	total := 0
	for _, n := range want {
		total += n
	}

	// Read the topic as an outsider would, until every expected event is there and
	// then a little longer, to catch anything unexpected.
	topic := s.cfg.TopicPrefix + topics.Events
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(s.cfg.KafkaBrokers, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(60 * time.Second) // the 10 s TTL runs meanwhile
	for extra := false; ; {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if extra {
			break
		}
		if len(recs) >= total {
			extra = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d events in 60 s, want %d", len(recs), total)
		}
	}

	schemas := compileEventSchemas(t)
	got := map[string]int{}
	ids := map[string]bool{}
	zonePartition := map[string]int32{}
	zoneTime := map[string]time.Time{}
	examples := map[string][]byte{}
	for _, r := range recs {
		h := map[string]string{}
		for _, kv := range r.Headers {
			if _, dup := h[kv.Key]; dup {
				t.Errorf("%d/%d: header %s twice", r.Partition, r.Offset, kv.Key)
			}
			h[kv.Key] = string(kv.Value)
		}
		where := func() string {
			return h["ce_type"] + " at " + topic + "/" + itoa(int64(r.Partition)) + "/" + itoa(r.Offset)
		}
		typ := h["ce_type"]
		got[typ]++
		if examples[typ] == nil {
			examples[typ] = r.Value
		}
		sch := schemas[topics.OutcomeType(typ)]
		if sch == nil {
			t.Errorf("%s: no schema for ce_type %q", where(), typ)
			continue
		}
		body, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Value))
		if err != nil {
			t.Errorf("%s: body is not JSON: %v", where(), err)
			continue
		}
		if err := sch.Validate(body); err != nil {
			t.Errorf("%s: body %s does not validate: %v", where(), r.Value, err)
		}
		var fields struct {
			Type   string    `json:"type"`
			ZoneID string    `json:"zone_id"`
			Time   time.Time `json:"time"`
		}
		if err := json.Unmarshal(r.Value, &fields); err != nil {
			t.Errorf("%s: %v", where(), err)
			continue
		}
		id, err := uuid.Parse(h["ce_id"])
		if err != nil || id.String() != h["ce_id"] {
			t.Errorf("%s: ce_id %q is not a canonical uuid", where(), h["ce_id"])
		}
		if ids[h["ce_id"]] {
			t.Errorf("%s: ce_id %s seen twice", where(), h["ce_id"])
		}
		ids[h["ce_id"]] = true
		if fields.Type != typ {
			t.Errorf("%s: body type %q", where(), fields.Type)
		}
		if h["ce_source"] != "ultimate-ticket/processor" {
			t.Errorf("%s: ce_source %q", where(), h["ce_source"])
		}
		if ct, err := time.Parse(time.RFC3339Nano, h["ce_time"]); err != nil {
			t.Errorf("%s: ce_time %q is not RFC 3339: %v", where(), h["ce_time"], err)
		} else if !ct.Equal(fields.Time) {
			t.Errorf("%s: ce_time %s, body time %s", where(), ct, fields.Time)
		}
		if h["ce_specversion"] != "1.0" {
			t.Errorf("%s: ce_specversion %q", where(), h["ce_specversion"])
		}
		if h["ce_dataschema"] != topics.SchemaURI(topics.OutcomeType(typ)) {
			t.Errorf("%s: ce_dataschema %q, want %q", where(), h["ce_dataschema"], topics.SchemaURI(topics.OutcomeType(typ)))
		}
		if h["content-type"] != "application/json" {
			t.Errorf("%s: content-type %q", where(), h["content-type"])
		}
		if string(r.Key) != fields.ZoneID {
			t.Errorf("%s: key %q, body zone_id %q", where(), r.Key, fields.ZoneID)
		}
		if p, ok := zonePartition[fields.ZoneID]; ok && p != r.Partition {
			t.Errorf("%s: zone %s on partitions %d and %d", where(), fields.ZoneID, p, r.Partition)
		}
		zonePartition[fields.ZoneID] = r.Partition
		if fields.Time.Before(zoneTime[fields.ZoneID]) {
			t.Errorf("%s: time %s before the zone's previous event at %s", where(), fields.Time, zoneTime[fields.ZoneID])
		}
		zoneTime[fields.ZoneID] = fields.Time
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%d %s events, want %d", got[typ], typ, n)
		}
	}
	for typ, n := range got {
		if want[typ] == 0 {
			t.Errorf("%d unexpected %s events", n, typ)
		}
	}
	for _, typ := range topics.OutcomeTypes {
		if examples[string(typ)] != nil {
			t.Logf("example %s: %s", typ, examples[string(typ)])
		}
	}

	// The documented example program prints the same events.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to run cmd/consume-events: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "run", "./cmd/consume-events",
		"-brokers", s.cfg.KafkaBrokers, "-topic", topic, "-from-start", "-exit-idle", "5s")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("consume-events: %v\n%s", err, stderr.Bytes())
	}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 5)
		if len(f) != 5 || !ids[f[3]] || want[f[2]] == 0 || !json.Valid([]byte(f[4])) {
			t.Errorf("consume-events printed %q", sc.Text())
		}
		lines++
	}
	if lines != len(recs) {
		t.Errorf("consume-events printed %d events, the topic has %d", lines, len(recs))
	}
}

// compileEventSchemas compiles the published schema of every event type, with
// format assertions on (uuid, date-time), as a consumer validating strictly would.
func compileEventSchemas(t *testing.T) map[topics.OutcomeType]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[topics.OutcomeType]*jsonschema.Schema{}
	for _, typ := range topics.SchemaTypes() {
		raw, err := topics.Schema(typ)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(topics.SchemaURI(typ), doc); err != nil {
			t.Fatal(err)
		}
		if out[typ], err = c.Compile(topics.SchemaURI(typ)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestContractDocsExample proves that docs/consumers.md shows cmd/consume-events
// verbatim, so the documented example is the program the contract test runs.
func TestContractDocsExample(t *testing.T) {
	root := filepath.Join("..", "..")
	code, err := os.ReadFile(filepath.Join(root, "cmd", "consume-events", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "consumers.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin = "<!-- begin cmd/consume-events/main.go -->\n```go\n"
	const end = "```\n<!-- end cmd/consume-events/main.go -->"
	_, rest, ok := strings.Cut(string(doc), begin)
	shown, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("docs/consumers.md lacks the markers %q ... %q", begin, end)
	}
	if shown != string(code) {
		t.Fatal("docs/consumers.md does not show cmd/consume-events/main.go verbatim; copy the file between the markers")
	}
}
