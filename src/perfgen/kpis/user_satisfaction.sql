-- User satisfaction from the five rating counts (1 = very dissatisfied ... 5 = very satisfied),
-- pooled over the period, by both methods:
--   mean_score:  ((sum(i * rating_i) / responses) - 1) / 4; numerator sum((i - 1) / 4 * rating_i)
--   top_two_box: (rating_4 + rating_5) / responses
WITH counts AS (
    SELECT
        *,
        rating_1 + rating_2 + rating_3 + rating_4 + rating_5 AS responses,
        rating_1 IS NULL AND rating_2 IS NULL AND rating_3 IS NULL AND rating_4 IS NULL AND rating_5 IS NULL AS no_ratings
    FROM facts
),
methods AS (
    SELECT 'mean_score' AS method UNION ALL SELECT 'top_two_box'
)
SELECT
    c.service, c.period_start, c.period_end, c.period_kind, m.method,
    CASE WHEN c.responses > 0 THEN (
        CASE m.method
            WHEN 'mean_score' THEN (0.25 * c.rating_2 + 0.5 * c.rating_3 + 0.75 * c.rating_4 + c.rating_5)
            ELSE c.rating_4 + c.rating_5
        END) / c.responses
    END AS value,
    CASE WHEN c.responses > 0 THEN (
        CASE m.method
            WHEN 'mean_score' THEN 0.25 * c.rating_2 + 0.5 * c.rating_3 + 0.75 * c.rating_4 + c.rating_5
            ELSE c.rating_4 + c.rating_5
        END)
    END AS numerator,
    CASE WHEN c.responses > 0 THEN c.responses END AS denominator,
    CASE
        WHEN c.responses > 0 THEN 'value'
        WHEN c.satisfaction_invalid THEN 'invalid'
        WHEN c.satisfaction_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    false AS derived,
    CASE
        WHEN c.responses = 0 THEN 'no survey responses'
        WHEN c.responses IS NULL AND NOT c.no_ratings THEN 'some rating counts are missing'
    END AS note
FROM counts c CROSS JOIN methods m
