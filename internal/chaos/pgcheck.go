package chaos

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Invariants checked on Postgres.
const (
	invPGInventory = "Postgres: per zone available+held+sold == capacity"
	invPGEqualsLog = "Postgres equals the fold of the committed events topic"
)

// diffsListedMax bounds the differences kept per comparison.
const diffsListedMax = 50

// pgZone, pgHold and pgOrder are read-model rows.
type pgZone struct{ capacity, available, held, sold int64 }

type pgHold struct {
	zone   uuid.UUID
	qty    int64
	status string
	order  uuid.UUID
}

type pgOrder struct {
	hold uuid.UUID
	qty  int64
}

// readModel is what the checks read from Postgres.
type readModel struct {
	zones    map[uuid.UUID]pgZone
	holds    map[uuid.UUID]pgHold
	orders   map[uuid.UUID]pgOrder
	requests map[uuid.UUID]string // status
}

func readReadModel(ctx context.Context, db *pgxpool.Pool) (*readModel, error) {
	m := &readModel{zones: map[uuid.UUID]pgZone{}, holds: map[uuid.UUID]pgHold{},
		orders: map[uuid.UUID]pgOrder{}, requests: map[uuid.UUID]string{}}
	// A row that does not scan ends the read, and the whole model is dropped.
	err := eachRow(ctx, db, `SELECT id, capacity, available, held, sold FROM zones`, func(rows pgx.Rows) error {
		var id uuid.UUID
		var z pgZone
		err := rows.Scan(&id, &z.capacity, &z.available, &z.held, &z.sold)
		m.zones[id] = z
		return err
	})
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, db, `SELECT id, zone_id, quantity, status, coalesce(order_id, '00000000-0000-0000-0000-000000000000'::uuid) FROM holds`, func(rows pgx.Rows) error {
		var id uuid.UUID
		var h pgHold
		err := rows.Scan(&id, &h.zone, &h.qty, &h.status, &h.order)
		m.holds[id] = h
		return err
	})
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, db, `SELECT id, hold_id, quantity FROM orders`, func(rows pgx.Rows) error {
		var id uuid.UUID
		var o pgOrder
		err := rows.Scan(&id, &o.hold, &o.qty)
		m.orders[id] = o
		return err
	})
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, db, `SELECT id, status FROM requests`, func(rows pgx.Rows) error {
		var id uuid.UUID
		var s string
		err := rows.Scan(&id, &s)
		m.requests[id] = s
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// eachRow runs query and calls scan on every row it returns, until scan fails.
func eachRow(ctx context.Context, db *pgxpool.Pool, query string, scan func(pgx.Rows) error) error {
	rows, err := db.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// activeHolds counts the holds still active in the read model.
func (m *readModel) activeHolds() int {
	n := 0
	for _, h := range m.holds {
		if h.status == string(topics.HoldActive) {
			n++
		}
	}
	return n
}

// compare lists how the read model differs from the fold (at most diffsListedMax
// differences, and their total). The fold's lock must not be held.
func (m *readModel) compare(f *fold) ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	n := 0
	diff := func(format string, args ...any) {
		n++
		if len(out) < diffsListedMax {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	for id, z := range f.zones {
		p, ok := m.zones[id]
		switch {
		case !ok:
			diff("zone %s missing", id)
		case p.capacity != z.inv.Capacity || p.available != z.inv.Available || p.held != z.inv.Held || p.sold != z.inv.Sold:
			diff("zone %s: Postgres %+v, events %+v", id, p, z.inv)
		}
	}
	for id, h := range f.holds {
		p, ok := m.holds[id]
		switch {
		case !ok:
			diff("hold %s missing", id)
		case p.status != string(h.status) || p.qty != h.qty || p.zone != h.zone || p.order != h.order:
			diff("hold %s: Postgres %s qty %d order %s, events %s qty %d order %s", id, p.status, p.qty, p.order, h.status, h.qty, h.order)
		}
	}
	for id, hold := range f.orders {
		if p, ok := m.orders[id]; !ok || p.hold != hold {
			diff("order %s of hold %s missing or for another hold", id, hold)
		}
	}
	for id, d := range f.decisions {
		if _, ok := m.requests[id]; !ok {
			diff("request %s (%s) missing", id, d.evType)
		}
	}
	if len(m.zones) != len(f.zones) || len(m.holds) != len(f.holds) || len(m.orders) != len(f.orders) || len(m.requests) != len(f.decisions) {
		diff("counts: Postgres %d zones, %d holds, %d orders, %d requests; events %d, %d, %d, %d",
			len(m.zones), len(m.holds), len(m.orders), len(m.requests), len(f.zones), len(f.holds), len(f.orders), len(f.decisions))
	}
	return out, n
}

// checkInventory records every zone whose numbers do not add up.
func (m *readModel) checkInventory(v *violations) {
	for id, z := range m.zones {
		if z.available+z.held+z.sold != z.capacity || z.available < 0 || z.held < 0 || z.sold < 0 {
			v.add(invPGInventory, "zone %s: %+v", id, z)
		}
	}
}
