DROP INDEX IF EXISTS order_refund_requests_open;
DROP TABLE IF EXISTS order_refund_requests;
