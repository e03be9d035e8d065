-- Total cost of providing the service: supplied, or derived as cost per transaction x volume.
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    total_cost AS value, total_cost AS numerator, NULL::DOUBLE AS denominator,
    CASE
        WHEN total_cost IS NOT NULL THEN 'value'
        WHEN cost_invalid THEN 'invalid'
        WHEN cost_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    total_cost_derived AS derived,
    CASE WHEN total_cost_derived THEN 'derived from the supplied cost per transaction x transactions' END AS note
FROM facts
