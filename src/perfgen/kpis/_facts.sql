-- Facts: one row per service and period with every figure the KPIs need, all channels resolved.
-- Input: facts_input (the rows of clean_observations whose facts are not kept from the last
-- build: kpis/facts_cache.py), service_digital_channels. Output: facts.
--
-- For each metric, the all-channel figure is the one supplied with an empty channel, otherwise the
-- sum of the per-channel figures (only when every channel row has a value). The digital figure is
-- the one supplied with channel `digital`, otherwise the sum over the service's digital channels.
-- Total cost supplied directly wins; otherwise it is derived as cost per transaction x volume
-- (and flagged as derived).
--
-- Every sum is exact (`_exact_sum`, kpis/__init__.py: the figures as decimals to 10 places), so a
-- row depends on its own service's figures only, not on the order DuckDB adds them in (threads,
-- memory spilled, the other services beside them); `min` where any value of a group would do.
CREATE TEMP TABLE metric_totals AS
WITH obs AS (
    SELECT o.*, dc.channel IS NOT NULL AS is_digital_channel
    FROM facts_input o
    LEFT JOIN service_digital_channels dc ON dc.service = o.service AND dc.channel = o.channel
)
SELECT
    service, period_start, period_end, min(period_kind) AS period_kind, min(months) AS months, metric,
    max(value) FILTER (WHERE channel = '') AS supplied_all,
    max(value) FILTER (WHERE channel = 'digital') AS supplied_digital,
    count(*) FILTER (WHERE channel NOT IN ('', 'digital')) AS channel_rows,
    count(value) FILTER (WHERE channel NOT IN ('', 'digital')) AS channel_values,
    _exact_sum(CASE WHEN channel NOT IN ('', 'digital') THEN value END) AS channel_sum,
    count(*) FILTER (WHERE is_digital_channel) AS digital_rows,
    count(value) FILTER (WHERE is_digital_channel) AS digital_values,
    _exact_sum(CASE WHEN is_digital_channel THEN value END) AS digital_sum,
    coalesce(bool_or(status = 'invalid') FILTER (WHERE channel <> 'digital'), false) AS all_invalid,
    coalesce(bool_or(status = 'invalid') FILTER (WHERE channel = 'digital' OR is_digital_channel), false) AS digital_invalid,
    coalesce(bool_or(status = 'not_applicable'), false) AS not_applicable
FROM obs
GROUP BY service, period_start, period_end, metric;

CREATE TEMP TABLE metric_resolved AS
SELECT
    service, period_start, period_end, period_kind, months, metric,
    CASE
        WHEN supplied_all IS NOT NULL THEN supplied_all
        WHEN channel_rows > 0 AND channel_values = channel_rows THEN channel_sum
    END AS all_value,
    CASE
        WHEN supplied_digital IS NOT NULL THEN supplied_digital
        WHEN channel_rows > 0 AND digital_values = digital_rows THEN coalesce(digital_sum, 0)
    END AS digital_value,
    all_invalid, digital_invalid, not_applicable
FROM metric_totals;
DROP TABLE metric_totals;  -- each step dropped once the next is made (memory)

CREATE TABLE facts AS
WITH wide AS (
    SELECT
        service, period_start, period_end, min(period_kind) AS period_kind, min(months) AS months,
        max(all_value) FILTER (WHERE metric = 'transactions') AS transactions,
        max(digital_value) FILTER (WHERE metric = 'transactions') AS digital_transactions,
        max(all_value) FILTER (WHERE metric = 'cost') AS supplied_cost,
        max(digital_value) FILTER (WHERE metric = 'cost') AS supplied_digital_cost,
        max(all_value) FILTER (WHERE metric = 'cost_per_transaction') AS supplied_cpt,
        max(digital_value) FILTER (WHERE metric = 'cost_per_transaction') AS supplied_digital_cpt,
        max(all_value) FILTER (WHERE metric = 'started') AS started,
        max(all_value) FILTER (WHERE metric = 'completed') AS completed,
        max(all_value) FILTER (WHERE metric = 'rating_1') AS rating_1,
        max(all_value) FILTER (WHERE metric = 'rating_2') AS rating_2,
        max(all_value) FILTER (WHERE metric = 'rating_3') AS rating_3,
        max(all_value) FILTER (WHERE metric = 'rating_4') AS rating_4,
        max(all_value) FILTER (WHERE metric = 'rating_5') AS rating_5,
        coalesce(bool_or(all_invalid) FILTER (WHERE metric = 'transactions'), false) AS transactions_invalid,
        coalesce(bool_or(digital_invalid) FILTER (WHERE metric = 'transactions'), false) AS digital_transactions_invalid,
        coalesce(bool_or(all_invalid) FILTER (WHERE metric IN ('cost', 'cost_per_transaction')), false) AS cost_invalid,
        coalesce(bool_or(digital_invalid) FILTER (WHERE metric IN ('cost', 'cost_per_transaction')), false) AS digital_cost_invalid,
        coalesce(bool_or(all_invalid) FILTER (WHERE metric IN ('started', 'completed')), false) AS completion_invalid,
        coalesce(bool_or(all_invalid) FILTER (WHERE metric LIKE 'rating_%'), false) AS satisfaction_invalid,
        coalesce(bool_or(not_applicable) FILTER (WHERE metric = 'transactions'), false) AS transactions_not_applicable,
        coalesce(bool_or(not_applicable) FILTER (WHERE metric IN ('cost', 'cost_per_transaction')), false) AS cost_not_applicable,
        coalesce(bool_or(not_applicable) FILTER (WHERE metric IN ('started', 'completed')), false) AS completion_not_applicable,
        coalesce(bool_or(not_applicable) FILTER (WHERE metric LIKE 'rating_%'), false) AS satisfaction_not_applicable
    FROM metric_resolved
    GROUP BY service, period_start, period_end
)
SELECT
    *,
    coalesce(supplied_cost, supplied_cpt * transactions) AS total_cost,
    supplied_cost IS NULL AND supplied_cpt IS NOT NULL AND transactions IS NOT NULL AS total_cost_derived,
    coalesce(supplied_digital_cost, supplied_digital_cpt * digital_transactions) AS digital_cost,
    supplied_digital_cost IS NULL AND supplied_digital_cpt IS NOT NULL AND digital_transactions IS NOT NULL AS digital_cost_derived,
    false AS summed
FROM wide;

-- Rolling 12-month windows built from 12 consecutive months or 4 consecutive quarters, when
-- every one is present. A supplied 12-month period with the same dates wins over a summed one.
-- Run for a batch of services at a time (`/* batch */ true` replaced by kpis._facts_of): each
-- window's sums need many aggregates, and for 10,000 services at once DuckDB spilled them to
-- disk (11 s instead of 3.4).
INSERT INTO facts BY NAME
WITH series AS (
    SELECT *, CASE WHEN months = 1 THEN 12 ELSE 4 END AS parts
    FROM facts
    WHERE months IN (1, 3) AND period_kind IN ('month', 'quarter', 'range') AND /* batch */ true
),
windows AS (
    SELECT
        w.service, w.months AS part_months, w.period_end,
        (w.period_end - INTERVAL 12 MONTH + INTERVAL 1 DAY)::DATE AS period_start
    FROM series w
),
summed AS (
    SELECT
        win.service, win.period_start, win.period_end,
        count(*) AS parts_present, any_value(s.parts) AS parts_needed,
        CASE WHEN count(s.transactions) = any_value(s.parts) THEN _exact_sum(s.transactions) END AS transactions,
        CASE WHEN count(s.digital_transactions) = any_value(s.parts) AND NOT coalesce(bool_or(s.digital_transactions > s.transactions), false)
             THEN _exact_sum(s.digital_transactions) END AS digital_transactions,
        CASE WHEN count(s.supplied_cost) = any_value(s.parts) THEN _exact_sum(s.supplied_cost) END AS supplied_cost,
        CASE WHEN count(s.supplied_digital_cost) = any_value(s.parts) THEN _exact_sum(s.supplied_digital_cost) END AS supplied_digital_cost,
        CASE WHEN count(coalesce(s.supplied_cost, s.supplied_cpt * s.transactions)) = any_value(s.parts) THEN _exact_sum(coalesce(s.supplied_cost, s.supplied_cpt * s.transactions)) END AS total_cost,
        CASE WHEN count(coalesce(s.supplied_digital_cost, s.supplied_digital_cpt * s.digital_transactions)) = any_value(s.parts) THEN _exact_sum(coalesce(s.supplied_digital_cost, s.supplied_digital_cpt * s.digital_transactions)) END AS digital_cost,
        bool_or(s.supplied_cost IS NULL AND s.supplied_cpt IS NOT NULL) AS total_cost_derived,
        bool_or(s.supplied_digital_cost IS NULL AND s.supplied_digital_cpt IS NOT NULL) AS digital_cost_derived,
        CASE WHEN count(s.started) = any_value(s.parts) THEN _exact_sum(s.started) END AS started,
        CASE WHEN count(s.completed) = any_value(s.parts) AND NOT coalesce(bool_or(s.completed > s.started), false)
             THEN _exact_sum(s.completed) END AS completed,
        CASE WHEN count(s.rating_1) = any_value(s.parts) THEN _exact_sum(s.rating_1) END AS rating_1,
        CASE WHEN count(s.rating_2) = any_value(s.parts) THEN _exact_sum(s.rating_2) END AS rating_2,
        CASE WHEN count(s.rating_3) = any_value(s.parts) THEN _exact_sum(s.rating_3) END AS rating_3,
        CASE WHEN count(s.rating_4) = any_value(s.parts) THEN _exact_sum(s.rating_4) END AS rating_4,
        CASE WHEN count(s.rating_5) = any_value(s.parts) THEN _exact_sum(s.rating_5) END AS rating_5,
        bool_or(s.transactions_invalid) AS transactions_invalid,
        bool_or(s.digital_transactions_invalid OR coalesce(s.digital_transactions > s.transactions, false)) AS digital_transactions_invalid,
        bool_or(s.cost_invalid) AS cost_invalid,
        bool_or(s.digital_cost_invalid) AS digital_cost_invalid,
        bool_or(s.completion_invalid OR coalesce(s.completed > s.started, false)) AS completion_invalid,
        bool_or(s.satisfaction_invalid) AS satisfaction_invalid,
        bool_or(s.transactions_not_applicable) AS transactions_not_applicable,
        bool_or(s.cost_not_applicable) AS cost_not_applicable,
        bool_or(s.completion_not_applicable) AS completion_not_applicable,
        bool_or(s.satisfaction_not_applicable) AS satisfaction_not_applicable
    FROM windows win
    JOIN series s
      ON s.service = win.service AND s.months = win.part_months
     AND s.period_start >= win.period_start AND s.period_end <= win.period_end
    GROUP BY win.service, win.period_start, win.period_end, win.part_months
)
SELECT
    summed.* EXCLUDE (parts_present, parts_needed),
    'rolling_12_months' AS period_kind, 12 AS months,
    NULL::DOUBLE AS supplied_cpt, NULL::DOUBLE AS supplied_digital_cpt,
    true AS summed
FROM summed
WHERE parts_present = parts_needed
  AND NOT EXISTS (
      SELECT 1 FROM facts f
      WHERE f.service = summed.service AND f.period_start = summed.period_start AND f.period_end = summed.period_end AND /* batch */ true
  )
QUALIFY row_number() OVER (PARTITION BY service, period_start, period_end ORDER BY parts_needed DESC) = 1;
DROP TABLE metric_resolved;
