-- History that lasts: every coin's metadata and its price snapshots.
--
-- Snapshots are partitioned by month of `at` (partitions are made as rows arrive, by
-- coinbeat_ensure_month), so years of minute data stay a set of tables each one month long:
-- an old month is dropped or moved whole, and a range query reads only its months. Within a
-- month the primary key (coin, at) serves both a coin's range and the no-duplicate rule.

-- Coins by a small number: a snapshot carries 4 bytes, not the coin's id text.
CREATE TABLE coins (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    coin_id     text NOT NULL UNIQUE,
    symbol      text,
    name        text,
    -- By market cap, from the catalogue; null when unranked.
    rank        integer,
    market_cap_usd numeric,
    -- Contract address by platform (`{"ethereum": "0x…"}`).
    platforms   jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Where the metadata came from (`coingecko`, `coinlore`), null until any came.
    source      text,
    -- When the metadata was last written (null: only a snapshot named the coin so far).
    updated_at  timestamptz
);

-- Where a snapshot's price came from (`coingecko`, `binance-ws`, `coingecko-backfill`), by a
-- small number.
CREATE TABLE sources (
    id    smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL UNIQUE
);

CREATE TABLE price_snapshots (
    -- The instant of the price: when it was fetched (as Redis's recent points), or the
    -- upstream's time for a backfilled point.
    at          timestamptz NOT NULL,
    coin        integer NOT NULL,
    source      smallint NOT NULL,
    usd         numeric NOT NULL,
    market_cap_usd numeric,
    volume_24h_usd numeric,
    PRIMARY KEY (coin, at)
) PARTITION BY RANGE (at);

-- The partition of the month holding `day`, made if missing. Serialised by an advisory lock,
-- so two workers making the same month at once do not collide.
CREATE FUNCTION coinbeat_ensure_month(day timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', day AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    part text := 'price_snapshots_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('coinbeat_ensure_month'));
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF price_snapshots FOR VALUES FROM (%L) TO (%L)',
        part, month_start, month_start + interval '1 month'
    );
END;
$$;

-- Backfill progress: per coin, the range asked and how far it is stored, so a backfill killed
-- halfway resumes where it stopped rather than fetching again what it stored.
CREATE TABLE backfills (
    coin        integer NOT NULL,
    range_from  timestamptz NOT NULL,
    range_to    timestamptz NOT NULL,
    -- Everything in [range_from, done_until) is stored.
    done_until  timestamptz NOT NULL,
    points      bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coin, range_from, range_to)
);
