-- Transactions completed through all channels in the period.
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    transactions AS value, transactions AS numerator, NULL::DOUBLE AS denominator,
    CASE
        WHEN transactions IS NOT NULL THEN 'value'
        WHEN transactions_invalid THEN 'invalid'
        WHEN transactions_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    false AS derived, NULL::VARCHAR AS note
FROM facts
