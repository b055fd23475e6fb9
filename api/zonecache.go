package api

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
)

// zoneCacheEntriesMax bounds the zones the cache keeps; past it, entries are
// dropped (a dropped zone is read again on its next submit).
const zoneCacheEntriesMax = 100_000

// zoneCache keeps the API's copy of each zone's row, so that a submit does not
// query the read model for it. What a submit needs of a zone (its event, and the
// hold_quantity_max it checks early) changes only by an admin's PATCH, and the
// processor checks every rule again: the copy only keeps hopeless requests off
// Kafka, so a copy a little stale is harmless.
//
// The staleness rule: a copy younger than ZoneCacheTTL is used as it is; an older
// one is still used, and one background query refreshes it; a copy older than
// ZoneStaleMax (the read model unreachable that long) is not used, and the submit
// queries the read model itself. A zone not in the cache is queried once for all
// the submits waiting on it. Unknown zones are not cached: a zone being created
// is found as soon as the read model has it.
type zoneCache struct {
	reads    ReadModel
	ttl      time.Duration
	staleMax time.Duration
	timeout  time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries map[uuid.UUID]*zoneEntry
	group   singleflight.Group
}

type zoneEntry struct {
	zone       Zone
	fetched    time.Time
	refreshing bool
}

func newZoneCache(reads ReadModel, cfg Config) *zoneCache {
	return &zoneCache{reads: reads, ttl: cfg.ZoneCacheTTL, staleMax: cfg.ZoneStaleMax,
		timeout: cfg.QueryTimeout, now: time.Now, entries: make(map[uuid.UUID]*zoneEntry)}
}

// zone returns the zone id, from the cache when it may (see zoneCache), or
// ErrNotFound, or the read model's error.
func (c *zoneCache) zone(ctx context.Context, id uuid.UUID) (Zone, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	if ok && now.Sub(e.fetched) < c.staleMax {
		z := e.zone
		if now.Sub(e.fetched) >= c.ttl && !e.refreshing {
			e.refreshing = true
			go c.refresh(id)
		}
		c.mu.Unlock()
		return z, nil
	}
	c.mu.Unlock()
	return c.fetch(ctx, id)
}

// fetch reads zone id from the read model, once for all callers at the same time,
// and keeps it. A caller leaving early does not cancel the query of the others.
func (c *zoneCache) fetch(ctx context.Context, id uuid.UUID) (Zone, error) {
	ch := c.group.DoChan(id.String(), func() (any, error) {
		qctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		fetched := c.now()
		z, err := c.reads.Zone(qctx, id)
		if err == nil {
			c.store(id, z, fetched)
		}
		return z, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Zone{}, r.Err
		}
		return r.Val.(Zone), nil
	case <-ctx.Done():
		return Zone{}, ctx.Err()
	}
}

// refresh reads zone id again for the copy in the cache.
func (c *zoneCache) refresh(id uuid.UUID) {
	_, err := c.fetch(context.Background(), id)
	if err != nil {
		c.mu.Lock()
		if e, ok := c.entries[id]; ok {
			e.refreshing = false // the next submit tries again
		}
		c.mu.Unlock()
	}
}

// forget drops the copy of zone id: the next submit to it reads it again.
func (c *zoneCache) forget(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// fresh reads zone id from the read model now, and keeps it.
func (c *zoneCache) fresh(ctx context.Context, id uuid.UUID) (Zone, error) {
	c.forget(id)
	return c.fetch(ctx, id)
}

func (c *zoneCache) store(id uuid.UUID, z Zone, fetched time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= zoneCacheEntriesMax {
		for other := range c.entries { // map order: a random victim
			delete(c.entries, other)
			break
		}
	}
	c.entries[id] = &zoneEntry{zone: z, fetched: fetched}
}
