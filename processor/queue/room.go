package queue

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// SeedSuffix ends the input of a room's shuffle seed (see Seed).
const SeedSuffix = "ultimate-ticket/queue/v1"

// Seed is the seed of a room's pre-queue shuffle: SHA-256 of the event id (its
// canonical text), StartsAt in RFC 3339 with nanoseconds (UTC) and SeedSuffix.
func Seed(event uuid.UUID, startsAt time.Time) [32]byte {
	h := sha256.New()
	h.Write([]byte(event.String()))
	h.Write([]byte(startsAt.UTC().Format(time.RFC3339Nano)))
	h.Write([]byte(SeedSuffix))
	return [32]byte(h.Sum(nil))
}

// Shuffle permutes entries (the pre-queue in join order) as the room does at its
// start: Fisher–Yates from the last element down, j = IntN(i+1) of a math/rand/v2
// PCG seeded with the seed's first two big-endian 64-bit words. Exported so that an
// auditor's tool can recompute positions from the recorded seed and the join order.
func Shuffle[T any](seed [32]byte, entries []T) {
	rng := rand.New(rand.NewPCG(binary.BigEndian.Uint64(seed[0:8]), binary.BigEndian.Uint64(seed[8:16])))
	for i := len(entries) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		entries[i], entries[j] = entries[j], entries[i]
	}
}

// effective checks a configure command and fills in the defaults.
func effective(c *topics.ConfigureQueue) (topics.QueueConfig, string) {
	q := topics.QueueConfig{Enabled: c.Enabled, OpensAt: c.OpensAt.UTC(), StartsAt: c.StartsAt.UTC(),
		RatePerSecond: c.RatePerSecond, RateMax: c.RateMax, ShopSeconds: c.ShopSeconds, Allowance: c.Allowance,
		CustomerLimit: c.CustomerLimit, Zones: slices.Clone(c.Zones)}
	if q.Zones == nil {
		q.Zones = []uuid.UUID{}
	}
	if q.RateMax == 0 {
		q.RateMax = topics.QueueRateMaxDefault
	}
	setDefault(&q.ShopSeconds, topics.QueueShopSecondsDefault)
	setDefault(&q.Allowance, topics.QueueAllowanceDefault)
	setDefault(&q.CustomerLimit, q.Allowance)
	switch {
	case q.OpensAt.After(q.StartsAt):
		return q, "opens_at after starts_at"
	case q.StartsAt.IsZero() || q.StartsAt.UnixNano() <= 0:
		return q, "starts_at is required"
	case math.IsNaN(q.RatePerSecond) || q.RatePerSecond < 0 || q.RatePerSecond > topics.QueueRateMax:
		return q, "rate_per_second out of range"
	case math.IsNaN(q.RateMax) || q.RateMax <= 0 || q.RateMax > topics.QueueRateMax:
		return q, "rate_max out of range"
	case q.ShopSeconds < topics.QueueShopSecondsMin || q.ShopSeconds > topics.QueueShopSecondsMax:
		return q, "shop_seconds out of range"
	case q.Allowance < 1 || q.Allowance > topics.QueueAllowanceMax:
		return q, "allowance out of range"
	case q.CustomerLimit < 1 || q.CustomerLimit > topics.QueueAllowanceMax:
		return q, "customer_limit out of range"
	case len(q.Zones) > topics.QueueZonesMax:
		return q, "too many zones"
	case q.RatePerSecond == 0 && len(q.Zones) == 0:
		return q, "an automatic rate follows the zones' stock: zones are required"
	}
	return q, ""
}

// configure creates or replaces a room's configuration. A room that has started
// keeps its start (and seed) whatever StartsAt becomes.
func (s *State) configure(dst []topics.Outcome, cmd *topics.Command) []topics.Outcome {
	q, bad := effective(cmd.Queue)
	if bad != "" {
		return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, bad))
	}
	r := s.rooms[cmd.EventID]
	if r == nil {
		if len(s.rooms) >= s.cfg.RoomsMax {
			return append(dst, s.reject(cmd, topics.ReasonPartitionFull, "partition has too many waiting rooms"))
		}
		r = newRoom(cmd.EventID)
		s.insertRoom(r)
	}
	q.Created = !r.configured
	r.configured, r.cfg = true, q
	s.trimStock(r)
	s.markRoom(r)
	o := s.outcome(topics.OutQueueConfigured, r.event)
	o.RequestID, o.CommandType = cmd.RequestID, cmd.Type
	cfg := r.cfg
	cfg.Zones = slices.Clone(cfg.Zones)
	o.Queue = &cfg
	dst = append(dst, o)
	return s.checkSoldOut(dst, r)
}

// join gives the buyer a place, or its existing one.
func (s *State) join(dst []topics.Outcome, cmd *topics.Command) []topics.Outcome {
	r := s.rooms[cmd.EventID]
	customer := cmd.Join.CustomerID
	switch {
	case r == nil || !r.configured || !r.cfg.Enabled:
		return append(dst, s.reject(cmd, topics.ReasonQueueNotFound, "the event has no open waiting room"))
	case s.clock < r.cfg.OpensAt.UnixNano():
		return append(dst, s.reject(cmd, topics.ReasonQueueNotOpen, "the waiting room is not open yet"))
	case len(customer) > topics.TextBytesMax:
		return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "customer id too long"))
	}
	if e := s.entries[cmd.RequestID]; e != nil {
		return append(dst, s.replay(cmd, e))
	}
	b := r.buyers[customer]
	if customer != "" && b != nil && b.entry != nil {
		return append(dst, s.replay(cmd, b.entry))
	}
	if len(s.entries) >= s.cfg.EntriesMax {
		return append(dst, s.reject(cmd, topics.ReasonPartitionFull, "partition has too many queue entries"))
	}
	r.joinSeq++
	e := &entry{id: cmd.RequestID, room: r, customer: customer, seq: r.joinSeq, joinedAt: s.clock, status: statusWaiting, heapIdx: -1}
	if r.started {
		e.position = r.nextPos
		r.nextPos++
		r.line = append(r.line, e)
	} else {
		e.pre = true
		r.pre = append(r.pre, e)
	}
	s.entries[e.id] = e
	r.entryCount++
	if customer != "" {
		if b == nil {
			b = &buyer{}
			r.buyers[customer] = b
		}
		b.entry = e
	}
	s.markEntry(e)
	s.markRoom(r)
	o := s.outcome(topics.OutQueueJoined, r.event)
	o.RequestID, o.CommandType = cmd.RequestID, cmd.Type
	o.Entry, o.Progress = entryView(e), s.progress(r)
	return append(dst, o)
}

func (s *State) replay(cmd *topics.Command, e *entry) topics.Outcome {
	o := s.outcome(topics.OutRequestReplayed, cmd.EventID)
	o.RequestID, o.CommandType = cmd.RequestID, cmd.Type
	o.Replay = &topics.Replay{OriginalRequestID: e.id, OriginalType: topics.OutQueueJoined}
	o.Entry = entryView(e)
	return o
}

// open starts the sale: the pre-queue is shuffled and numbered 1..P, and later
// joiners follow from P+1.
func (s *State) open(dst []topics.Outcome, r *room) []topics.Outcome {
	r.started = true
	r.seed = Seed(r.event, r.cfg.StartsAt)
	Shuffle(r.seed, r.pre)
	r.preSize = int64(len(r.pre))
	r.line = append(r.line[:0], r.pre...)
	r.head = 0
	r.pre = nil
	for i, e := range r.line {
		e.position = int64(i + 1)
		s.markEntry(e)
	}
	r.nextPos = r.preSize + 1
	s.markRoom(r)
	o := s.outcome(topics.OutQueueOpened, r.event)
	o.Opened = &topics.QueueOpened{Seed: hex.EncodeToString(r.seed[:]), PreQueueSize: r.preSize, StartedAt: unixTime(s.clock)}
	o.Progress = s.progress(r)
	dst = append(dst, o)
	for _, e := range r.line {
		p := s.outcome(topics.OutQueuePositioned, r.event)
		p.Entry = entryView(e)
		dst = append(dst, p)
	}
	return dst
}
