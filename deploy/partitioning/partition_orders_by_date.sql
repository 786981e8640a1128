-- Convert commerce_order and commerce_lineitem into tables range-partitioned by order
-- date (one partition per year, plus a DEFAULT one), keeping every row, in one
-- transaction. docs/scaling.md ("Range partitioning") explains the choices and the
-- online variant for very large tables.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/partitioning/partition_orders_by_date.sql
--
-- Before: `manage.py migrate` adds LineItem.order_date (commerce 0003: nullable, so
-- instant), each line's copy of its order's date, which load_tpch and the import write
-- with every line from then on; `manage.py backfill_lineitem_order_date` fills the
-- lines written before, online, one batch of ids per transaction. Step 0 below fills
-- any line still without a date, inside the lock (fine for small tables; on big ones
-- backfill first). The column puts an order and its lines in partitions of the same
-- year, and lets the foreign key include the partition key: PostgreSQL requires every
-- unique constraint of a partitioned table, primary keys included, to contain that key.
--
-- Writers block for the duration (ACCESS EXCLUSIVE on both tables), readers too once
-- the renames run: measure on a restored copy first. Measured on a 2-CPU machine with
-- PostgreSQL 15 shared with a load test: TPC-H scale 0.1 (150,000 orders, 600,572
-- lines) 8.7-10.5 s in three fresh databases, scale 0.01 2.5-2.9 s (docs/scaling.md);
-- tests/commerce/test_partitioning.py runs it end to end at scale 0.01 and checks the
-- rows, the partitions, pruning, and the app's reads, imports and reloads afterwards.
--
-- Afterwards the old tables stay as commerce_order_unpartitioned and
-- commerce_lineitem_unpartitioned; `load_tpch --replace` refuses to run until they are
-- dropped (they still refer to the parts, suppliers and customers it would empty), then
-- loads into the partitioned tables; the import writes into them as before.

BEGIN;
SET LOCAL lock_timeout = '10s';
LOCK TABLE commerce_order, commerce_lineitem IN ACCESS EXCLUSIVE MODE;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'commerce_lineitem' AND column_name = 'order_date') THEN
        RAISE EXCEPTION 'commerce_lineitem has no order_date column: run manage.py migrate first '
                        '(docs/scaling.md, "Range partitioning", step 1)';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'commerce_order'::regclass) THEN
        RAISE EXCEPTION 'commerce_order is partitioned already: nothing to do';
    END IF;
END $$;

-- 0. Lines still without a date get their order's (none after backfill_lineitem_order_date:
--    then this is one scan of the lines). No service changes an order's date, so a line
--    that has one has its order's; the composite foreign key of step 5 checks it anyway.
UPDATE commerce_lineitem l SET order_date = o.order_date
  FROM commerce_order o WHERE o.id = l.order_id AND l.order_date IS NULL;

-- 1. The new parents, same columns; keys now include order_date.
CREATE TABLE commerce_order_part (LIKE commerce_order INCLUDING DEFAULTS INCLUDING GENERATED)
    PARTITION BY RANGE (order_date);
ALTER TABLE commerce_order_part ADD PRIMARY KEY (id, order_date);

CREATE TABLE commerce_lineitem_part (LIKE commerce_lineitem INCLUDING DEFAULTS INCLUDING GENERATED)
    PARTITION BY RANGE (order_date);
ALTER TABLE commerce_lineitem_part ALTER COLUMN order_date SET NOT NULL;
-- Identity columns on partitioned tables need PostgreSQL 17: a sequence does the same.
CREATE SEQUENCE commerce_lineitem_part_id_seq OWNED BY commerce_lineitem_part.id;
ALTER TABLE commerce_lineitem_part ALTER COLUMN id SET DEFAULT nextval('commerce_lineitem_part_id_seq');
ALTER TABLE commerce_lineitem_part ADD PRIMARY KEY (id, order_date);
ALTER TABLE commerce_lineitem_part
    ADD CONSTRAINT lineitem_part_order_line_uniq UNIQUE (order_id, order_date, line_number);

-- 2. One partition per year present in the data, and a default for anything else.
DO $$
DECLARE
    first_year int;
    last_year int;
BEGIN
    SELECT extract(year FROM min(order_date))::int, extract(year FROM max(order_date))::int
      INTO first_year, last_year FROM commerce_order;
    IF first_year IS NULL THEN
        first_year := extract(year FROM now())::int;
        last_year := first_year;
    END IF;
    -- The next year too, so that new orders do not land in the default partition.
    FOR y IN first_year .. last_year + 1 LOOP
        EXECUTE format('CREATE TABLE commerce_order_y%s PARTITION OF commerce_order_part '
                       'FOR VALUES FROM (%L) TO (%L)', y, make_date(y, 1, 1), make_date(y + 1, 1, 1));
        EXECUTE format('CREATE TABLE commerce_lineitem_y%s PARTITION OF commerce_lineitem_part '
                       'FOR VALUES FROM (%L) TO (%L)', y, make_date(y, 1, 1), make_date(y + 1, 1, 1));
    END LOOP;
END $$;
CREATE TABLE commerce_order_default PARTITION OF commerce_order_part DEFAULT;
CREATE TABLE commerce_lineitem_default PARTITION OF commerce_lineitem_part DEFAULT;

-- 3. The rows (each lands in its year's partition).
INSERT INTO commerce_order_part SELECT * FROM commerce_order;
INSERT INTO commerce_lineitem_part SELECT * FROM commerce_lineitem;
SELECT setval('commerce_lineitem_part_id_seq', coalesce((SELECT max(id) FROM commerce_lineitem), 0) + 1, false);

-- 4. The indexes the queries use (created on every partition).
CREATE INDEX order_part_date_id_idx ON commerce_order_part (order_date DESC, id DESC);
CREATE INDEX order_part_customer_date_idx ON commerce_order_part (customer_id, order_date DESC);
CREATE INDEX order_part_status_date_idx ON commerce_order_part (status, order_date DESC);
CREATE INDEX lineitem_part_ship_date_idx ON commerce_lineitem_part (ship_date);
CREATE INDEX lineitem_part_part_idx ON commerce_lineitem_part (part_id);
CREATE INDEX lineitem_part_supplier_idx ON commerce_lineitem_part (supplier_id);

-- 5. Foreign keys: lines to their order (composite, with the partition key), orders and
--    lines to the small dimension tables.
ALTER TABLE commerce_lineitem_part ADD CONSTRAINT lineitem_part_order_fk
    FOREIGN KEY (order_id, order_date) REFERENCES commerce_order_part (id, order_date)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE commerce_order_part ADD CONSTRAINT order_part_customer_fk
    FOREIGN KEY (customer_id) REFERENCES commerce_customer (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE commerce_lineitem_part ADD CONSTRAINT lineitem_part_part_fk
    FOREIGN KEY (part_id) REFERENCES commerce_part (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE commerce_lineitem_part ADD CONSTRAINT lineitem_part_supplier_fk
    FOREIGN KEY (supplier_id) REFERENCES commerce_supplier (id) DEFERRABLE INITIALLY DEFERRED;

-- 6. Swap: the old tables stay, renamed, until someone drops them after checking.
ALTER TABLE commerce_lineitem RENAME TO commerce_lineitem_unpartitioned;
ALTER TABLE commerce_order RENAME TO commerce_order_unpartitioned;
ALTER TABLE commerce_order_part RENAME TO commerce_order;
ALTER TABLE commerce_lineitem_part RENAME TO commerce_lineitem;
ANALYZE commerce_order;
ANALYZE commerce_lineitem;
COMMIT;
