-- Transactions completed / transactions started. Above 100% is a data error, never a result.
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    CASE WHEN started > 0 AND completed <= started THEN completed / started END AS value,
    CASE WHEN started > 0 AND completed <= started THEN completed END AS numerator,
    CASE WHEN started > 0 AND completed <= started THEN started END AS denominator,
    CASE
        WHEN completed > started THEN 'invalid'
        WHEN started > 0 AND completed IS NOT NULL THEN 'value'
        WHEN completion_invalid THEN 'invalid'
        WHEN completion_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    false AS derived,
    CASE
        WHEN completed > started THEN 'more transactions completed than started'
        WHEN started = 0 THEN 'no transactions started'
    END AS note
FROM facts
