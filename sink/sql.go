package sink

// The statements of one batch, in the order they run. Each writes a whole table's
// share of the batch from column arrays (unnest), so a batch costs a fixed number
// of statements whatever its size.

// lockOffsetsSQL locks the batch's partitions in sink_offsets and returns their
// stored next_offset (0 for a partition seen for the first time). The no-op update
// takes the row lock, so two sinks that both think they own a partition (a stale
// assignment) apply it one after the other, and the second skips what the first
// wrote.
const lockOffsetsSQL = `
INSERT INTO sink_offsets (topic, partition, next_offset)
SELECT $1, p, 0 FROM unnest($2::int[]) AS p
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = sink_offsets.next_offset
RETURNING partition, next_offset`

// storeOffsetsSQL moves the partitions of the batch to their new next_offset and
// decided_through, the newest event time written from the partition (GREATEST
// skips a NULL: a batch of only dead letters keeps the time it had).
const storeOffsetsSQL = `
UPDATE sink_offsets SET next_offset = u.next_offset, updated_at = now(),
    decided_through = GREATEST(sink_offsets.decided_through, u.decided_through)
FROM unnest($2::int[], $3::bigint[], $4::timestamptz[]) AS u(partition, next_offset, decided_through)
WHERE sink_offsets.topic = $1 AND sink_offsets.partition = u.partition`

// readOffsetsSQL reads where the sink stopped, for a new assignment.
const readOffsetsSQL = `
SELECT partition, next_offset FROM sink_offsets WHERE topic = $1 AND partition = ANY($2::int[])`

// upsertEventsSQL writes the ticketed events of the zones configured in the batch;
// created_at is the first configuration's time and stays. Rows go in id order: the
// sink's writers run side by side, and an event's zones can sit on the partitions of
// several writers, so every writer takes the rows' locks in the same order.
const upsertEventsSQL = `
INSERT INTO events (id, name, created_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS e (id, name, created_at) ORDER BY id
ON CONFLICT (id) DO UPDATE SET name = excluded.name
WHERE excluded.name <> '' AND events.name <> excluded.name`

// upsertZonesSQL writes the zones configured in the batch: configuration and
// newest inventory. The as_of guard keeps a newer row.
const upsertZonesSQL = `
INSERT INTO zones (id, event_id, name, capacity, available, held, sold,
                   hold_ttl_seconds, hold_quantity_max, customer_limit, as_of, waiting_room, price_minor, currency)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                     $11::timestamptz[], $12::bool[], $13::bigint[], $14::text[])
ON CONFLICT (id) DO UPDATE SET
    event_id = excluded.event_id, name = excluded.name,
    capacity = excluded.capacity, available = excluded.available,
    held = excluded.held, sold = excluded.sold,
    hold_ttl_seconds = excluded.hold_ttl_seconds,
    hold_quantity_max = excluded.hold_quantity_max,
    customer_limit = excluded.customer_limit, as_of = excluded.as_of,
    waiting_room = excluded.waiting_room,
    price_minor = excluded.price_minor, currency = excluded.currency
WHERE zones.as_of <= excluded.as_of`

// updateInventorySQL writes the newest inventory of the other zones the batch
// touched. A zone with no row (a rejection for an unknown zone) is left alone.
const updateInventorySQL = `
UPDATE zones SET capacity = u.capacity, available = u.available, held = u.held,
                 sold = u.sold, as_of = u.as_of
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
            $6::timestamptz[]) AS u(id, capacity, available, held, sold, as_of)
WHERE zones.id = u.id AND zones.as_of <= u.as_of`

// upsertHoldsSQL writes each hold's final state in the batch. A hold placed in an
// earlier batch only takes its resolution, and only once: a resolved hold stays.
const upsertHoldsSQL = `
INSERT INTO holds (id, event_id, zone_id, quantity, customer_id, status, idempotency_key,
                   created_at, expires_at, resolved_at, order_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[],
                     $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
                     $11::uuid[])
ON CONFLICT (id) DO UPDATE SET
    status = excluded.status, resolved_at = excluded.resolved_at,
    order_id = excluded.order_id
WHERE holds.status = 'active' AND excluded.status <> 'active'`

// insertOrdersSQL writes the orders confirmed in the batch.
const insertOrdersSQL = `
INSERT INTO orders (id, hold_id, event_id, zone_id, quantity, customer_id, created_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],
                     $6::text[], $7::timestamptz[])
ON CONFLICT DO NOTHING`

// insertRequestsSQL writes the requests decided in the batch. A request's answer
// never changes, so the first row stays.
const insertRequestsSQL = `
INSERT INTO requests (id, type, event_id, zone_id, status, event_type, hold_id, order_id,
                      reason, message, available, replayed, decided_at, idempotency_key)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[],
                     $7::uuid[], $8::uuid[], $9::text[], $10::text[], $11::bigint[],
                     $12::bool[], $13::timestamptz[], $14::text[])
ON CONFLICT (id) DO NOTHING`

// asyncCommitSQL lets the batch's commit return before its WAL is flushed (see
// Config.AsyncCommit).
const asyncCommitSQL = `SET LOCAL synchronous_commit = off`

// upsertRoomConfigSQL writes the effective configuration of the waiting rooms
// configured in the batch (queue.configured); progress columns keep their values.
const upsertRoomConfigSQL = `
INSERT INTO waiting_rooms (event_id, enabled, opens_at, starts_at, rate_per_second, rate_max,
                           shop_seconds, allowance, customer_limit, zone_ids, updated_at)
SELECT u.event_id, u.enabled, u.opens_at, u.starts_at, u.rate, u.rate_max, u.shop_seconds,
       u.allowance, u.customer_limit, u.zones::uuid[], u.updated_at
FROM unnest($1::uuid[], $2::bool[], $3::timestamptz[], $4::timestamptz[], $5::float8[],
            $6::float8[], $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::timestamptz[])
     AS u(event_id, enabled, opens_at, starts_at, rate, rate_max, shop_seconds, allowance,
          customer_limit, zones, updated_at)
ON CONFLICT (event_id) DO UPDATE SET
    enabled = excluded.enabled, opens_at = excluded.opens_at, starts_at = excluded.starts_at,
    rate_per_second = excluded.rate_per_second, rate_max = excluded.rate_max,
    shop_seconds = excluded.shop_seconds, allowance = excluded.allowance,
    customer_limit = excluded.customer_limit, zone_ids = excluded.zone_ids`

// updateRoomProgressSQL writes how far each room the batch touched has gone: a
// NULL keeps the column (the batch did not say), admitted_through never goes back.
// A room without a row (an outcome of a room never configured) is left alone.
const updateRoomProgressSQL = `
UPDATE waiting_rooms w SET
    admitted_through = GREATEST(w.admitted_through, COALESCE(u.admitted_through, 0)),
    waiting = COALESCE(u.waiting, w.waiting),
    current_rate = COALESCE(u.rate, w.current_rate),
    status = COALESCE(u.status, w.status),
    sold_out_at = CASE WHEN u.status = 'open' THEN NULL ELSE COALESCE(u.sold_out_at, w.sold_out_at) END,
    seed = COALESCE(u.seed, w.seed),
    pre_queue_size = COALESCE(u.pre_queue_size, w.pre_queue_size),
    started_at = COALESCE(u.started_at, w.started_at),
    updated_at = GREATEST(w.updated_at, u.updated_at)
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::float8[], $5::text[], $6::timestamptz[],
            $7::text[], $8::bigint[], $9::timestamptz[], $10::timestamptz[])
     AS u(event_id, admitted_through, waiting, rate, status, sold_out_at, seed, pre_queue_size,
          started_at, updated_at)
WHERE w.event_id = u.event_id`

// upsertQueueEntriesSQL writes each entry's newest state in the batch. An entry
// only moves forward (waiting, admitted, admission_expired), and a known position
// or admission is never erased.
const upsertQueueEntriesSQL = `
INSERT INTO queue_entries (queue_id, event_id, customer_id, position, pre_queue, status,
                           joined_at, admitted_at, expires_at, allowance)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::bool[], $6::text[],
                     $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bigint[])
ON CONFLICT (queue_id) DO UPDATE SET
    position = COALESCE(excluded.position, queue_entries.position),
    status = CASE
        WHEN queue_entries.status = 'admission_expired' THEN queue_entries.status
        WHEN queue_entries.status = 'admitted' AND excluded.status = 'waiting' THEN queue_entries.status
        ELSE excluded.status END,
    admitted_at = COALESCE(excluded.admitted_at, queue_entries.admitted_at),
    expires_at = COALESCE(excluded.expires_at, queue_entries.expires_at),
    allowance = COALESCE(excluded.allowance, queue_entries.allowance)`
