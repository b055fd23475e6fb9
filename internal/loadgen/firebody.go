package loadgen

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// bodies builds the request bodies of a fire run without encoding JSON per
// request: each zone's hold is a pre-encoded prefix up to the idempotency key's
// value, the key is the run's tag and the hold's sequence number appended in
// decimal, and a constant suffix closes the hold.
type bodies struct {
	prefixes [][]byte // per zone: {"event_id":…,"zone_id":…,"quantity":1,"idempotency_key":"<tag>-
	suffix   []byte
	batch    int
}

func newBodies(t Target, tag string, batch int) bodies {
	b := bodies{suffix: []byte(`"}`), batch: batch}
	for _, z := range t.ZoneIDs {
		// json.Marshal escapes the ids and the tag once, here, as every request
		// would carry them.
		ev, _ := json.Marshal(t.EventID)
		zone, _ := json.Marshal(z)
		key, _ := json.Marshal(tag + "-")
		p := make([]byte, 0, 160)
		p = append(p, `{"event_id":`...)
		p = append(p, ev...)
		p = append(p, `,"zone_id":`...)
		p = append(p, zone...)
		p = append(p, `,"quantity":1,"idempotency_key":`...)
		p = append(p, key[:len(key)-1]...) // the open string: the sequence number follows
		b.prefixes = append(b.prefixes, p)
	}
	return b
}

// body appends request seq's body to out: one hold for a batch of 1, else {"holds":[…]} with
// batch holds. Hold k of the run (k = seq*batch + i) goes to zone k mod zones and
// carries idempotency key <tag>-k, unique in the run.
func (b bodies) body(out []byte, seq int) []byte {
	first := seq * b.batch
	if b.batch == 1 {
		return b.item(out, first)
	}
	out = append(out, `{"holds":[`...)
	for i := range b.batch {
		if i > 0 {
			out = append(out, ',')
		}
		out = b.item(out, first+i)
	}
	return append(out, "]}"...)
}

func (b bodies) item(out []byte, k int) []byte {
	out = append(out, b.prefixes[k%len(b.prefixes)]...)
	out = strconv.AppendInt(out, int64(k), 10)
	return append(out, b.suffix...)
}

// batchCounts are the items of a batch answer by status.
type batchCounts struct {
	pending, succeeded, rejected, invalid int
}

// Byte patterns of a batch answer's item statuses. A hold object inside an item
// carries a status too, but never one of these words.
var (
	statusPending   = []byte(`"status":"pending"`)
	statusSucceeded = []byte(`"status":"succeeded"`)
	statusRejected  = []byte(`"status":"rejected"`)
	statusInvalid   = []byte(`"status":"invalid"`)
	requestIDField  = []byte(`"request_id":"`)
)

// countBatch counts the statuses of a batch answer's items by their byte patterns;
// when they do not add up to items (a server writing spaces, say), it decodes the
// JSON instead.
func countBatch(raw []byte, items int) (batchCounts, bool) {
	c := batchCounts{
		pending:   bytes.Count(raw, statusPending),
		succeeded: bytes.Count(raw, statusSucceeded),
		rejected:  bytes.Count(raw, statusRejected),
		invalid:   bytes.Count(raw, statusInvalid),
	}
	if c.pending+c.succeeded+c.rejected+c.invalid == items {
		return c, true
	}
	var body struct {
		Results []struct {
			Status string `json:"status"`
		} `json:"results"`
	}
	if json.Unmarshal(raw, &body) != nil || len(body.Results) != items {
		return batchCounts{}, false
	}
	c = batchCounts{}
	for _, r := range body.Results {
		switch r.Status {
		case "pending":
			c.pending++
		case "succeeded":
			c.succeeded++
		case "rejected":
			c.rejected++
		default:
			c.invalid++
		}
	}
	return c, true
}

// firstRequestID is the first request id in an answer: the single submit's, or the
// first item's of a batch; "" when there is none.
func firstRequestID(raw []byte) string {
	i := bytes.Index(raw, requestIDField)
	if i < 0 {
		return ""
	}
	rest := raw[i+len(requestIDField):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 || j > 64 {
		return ""
	}
	return string(rest[:j])
}
