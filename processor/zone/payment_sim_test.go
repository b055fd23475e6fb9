package zone

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestPaymentSimulation drives random payment sessions (holds, payments started,
// paid confirms right and wrong, late payments, releases, refunds, time passing)
// through a state and, in lockstep, through a copy rebuilt from its changelog every
// few hundred commands: the invariants hold after every command, and the rebuilt
// state answers exactly as the original (extensions, expiries and refunds included).
func TestPaymentSimulation(t *testing.T) {
	seed := *simSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./processor/zone -run TestPaymentSimulation -sim.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	a := newHarness(t, DefaultConfig())
	a.createZone(zoneA, 40, topics.ConfigureZone{HoldTTLSeconds: i64(10), PriceMinor: i64(testPrice), Currency: "eur"})
	a.createZone(zoneB, 40, topics.ConfigureZone{HoldTTLSeconds: i64(120), PriceMinor: i64(700), Currency: "eur", CustomerLimit: i64(6)})
	log := map[string][]byte{}
	drainAll(a.s, log)
	b := &harness{t: t, s: rebuildFrom(t, DefaultConfig(), log), now: a.now, n: a.n}

	type ref struct {
		zone  uuid.UUID
		id    uuid.UUID
		hold  uuid.UUID // of an order
		qty   int64
		price int64
	}
	var holds, orders []ref
	price := map[uuid.UUID]int64{zoneA: testPrice, zoneB: 700}
	seen := map[string]int{}
	steps := 4000
	if testing.Short() {
		steps = 1500
	}
	for i := 0; i < steps; i++ {
		var cmd *topics.Command
		pick := func(rs []ref) ref { return rs[rng.IntN(len(rs))] }
		switch op := rng.IntN(10); {
		case op < 3 || len(holds) == 0:
			z := []uuid.UUID{zoneA, zoneB}[rng.IntN(2)]
			cmd = a.placeCmd(z, 1+rng.Int64N(3), fmt.Sprintf("c%d", rng.IntN(4)), "")
		case op < 5:
			h := pick(holds)
			cmd = a.startPaymentCmd(h.zone, h.id, "pi_"+h.id.String(), h.qty*h.price)
		case op < 7:
			h := pick(holds)
			amount := h.qty * h.price
			if rng.IntN(10) == 0 {
				amount-- // a payment that is not the hold's price
			}
			cmd = a.paidConfirmCmd(h.zone, h.id, "pi_"+h.id.String(), amount)
		case op < 8:
			h := pick(holds)
			cmd = a.releaseCmd(h.zone, h.id, "rel-"+h.id.String())
		case op < 9 && len(orders) > 0:
			o := pick(orders)
			// The customer named by the command is right, wrong or missing: the hold's
			// is used while it is remembered.
			cmd = a.refundCmd(o.zone, o.id, 1+rng.Int64N(o.qty), fmt.Sprintf("c%d", rng.IntN(5)), fmt.Sprintf("re_%d", i))
			cmd.Refund.HoldID = o.hold
		default:
			a.now = a.now.Add(time.Duration(rng.IntN(20)) * time.Second)
			continue
		}
		b.now = a.now
		b.n = a.n
		ea := a.applyAll(cmd)
		eb := b.applyAll(cmd)
		if !reflect.DeepEqual(ea, eb) {
			t.Fatalf("step %d (%s): the rebuilt state answered %+v, the original %+v", i, cmd.Type, eb[len(eb)-1], ea[len(ea)-1])
		}
		last := ea[len(ea)-1]
		for _, e := range ea {
			k := string(e.Type)
			if e.Rejection != nil {
				k += "/" + string(e.Rejection.Reason)
			}
			seen[k]++
		}
		switch last.Type {
		case topics.OutHoldPlaced:
			holds = append(holds, ref{zone: cmd.ZoneID, id: last.Hold.ID, qty: last.Hold.Quantity, price: price[cmd.ZoneID]})
		case topics.OutHoldConfirmed:
			orders = append(orders, ref{zone: cmd.ZoneID, id: last.Order.ID, hold: last.Hold.ID, qty: last.Order.Quantity})
		}
		drainAll(a.s, log)
		b.s.DrainChanges(func(_, _ []byte) {})
		if i%300 == 299 {
			b = &harness{t: t, s: rebuildFrom(t, DefaultConfig(), log), now: a.now, n: a.n}
			if b.s.Stats() != a.s.Stats() {
				t.Fatalf("step %d: rebuilt %+v, want %+v", i, b.s.Stats(), a.s.Stats())
			}
		}
	}
	t.Logf("outcomes: %v", seen)
	for _, typ := range []string{"hold.payment_started", "hold.confirmed", "order.refunded", "hold.expired",
		"payment.refund_required/hold_expired", "payment.refund_required/payment_mismatch"} {
		if seen[typ] == 0 {
			t.Errorf("the simulation produced no %s", typ)
		}
	}
}
