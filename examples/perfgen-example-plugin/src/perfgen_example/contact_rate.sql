-- Contact rate: calls / transactions completed, for every period a service supplied calls for.
-- Input: clean_observations (the checked data rows) and facts (perfgen's figures per service and
-- period, including 12-month windows it summed from months or quarters). Output: perfgen's KPI
-- columns: service, period_start, period_end, period_kind, method, value, numerator,
-- denominator, status, derived, note.
WITH calls AS (
    -- The all-channel figure when given, otherwise the sum of the channels (perfgen's
    -- _exact_sum: the same whatever order the rows are added in).
    SELECT service, period_start, period_end, months,
           coalesce(max(value) FILTER (WHERE channel = ''), _exact_sum(CASE WHEN channel NOT IN ('', 'digital') THEN value END)) AS calls,
           bool_or(status = 'invalid') AS calls_invalid
    FROM clean_observations
    WHERE metric = 'calls'
    GROUP BY service, period_start, period_end, months
),
summed AS (
    -- 12-month windows perfgen summed from 12 months or 4 quarters: sum the calls the same way.
    SELECT f.service, f.period_start, f.period_end, _exact_sum(c.calls) AS calls, bool_or(c.calls_invalid) AS calls_invalid
    FROM facts f
    JOIN calls c ON c.service = f.service AND c.period_start >= f.period_start AND c.period_end <= f.period_end AND c.months IN (1, 3)
    WHERE f.summed
    GROUP BY f.service, f.period_start, f.period_end, c.months
    HAVING count(c.calls) * c.months = 12
),
figures AS (
    SELECT f.service, f.period_start, f.period_end, f.period_kind, f.transactions,
           coalesce(c.calls, s.calls) AS calls,
           coalesce(c.calls_invalid, s.calls_invalid, false) AS calls_invalid
    FROM facts f
    LEFT JOIN calls c ON NOT f.summed AND c.service = f.service AND c.period_start = f.period_start AND c.period_end = f.period_end
    LEFT JOIN summed s ON f.summed AND s.service = f.service AND s.period_start = f.period_start AND s.period_end = f.period_end
)
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    CASE WHEN transactions > 0 THEN calls / transactions END AS value,
    CASE WHEN transactions > 0 THEN calls END AS numerator,
    CASE WHEN transactions > 0 THEN transactions END AS denominator,
    CASE
        WHEN transactions > 0 AND calls IS NOT NULL THEN 'value'
        WHEN calls_invalid THEN 'invalid'
        ELSE 'not_provided'
    END AS status,
    false AS derived,
    CASE
        WHEN calls IS NULL THEN 'calls marked invalid'
        WHEN transactions = 0 THEN 'no transactions in the period'
        WHEN transactions IS NULL THEN 'no transactions figure for the period'
    END AS note
FROM figures
WHERE calls IS NOT NULL OR calls_invalid
