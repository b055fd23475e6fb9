DROP INDEX IF EXISTS queue_entries_customer;
DROP INDEX IF EXISTS queue_entries_event_id;
DROP TABLE IF EXISTS queue_entries;
DROP TABLE IF EXISTS waiting_rooms;
ALTER TABLE zones DROP COLUMN IF EXISTS waiting_room;
