-- Digital transactions / all transactions. Take-up above 100% is a data error, never published.
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    CASE WHEN transactions > 0 AND digital_transactions <= transactions THEN digital_transactions / transactions END AS value,
    CASE WHEN transactions > 0 AND digital_transactions <= transactions THEN digital_transactions END AS numerator,
    CASE WHEN transactions > 0 AND digital_transactions <= transactions THEN transactions END AS denominator,
    CASE
        WHEN digital_transactions > transactions THEN 'invalid'
        WHEN transactions > 0 AND digital_transactions IS NOT NULL THEN 'value'
        WHEN transactions_invalid OR digital_transactions_invalid THEN 'invalid'
        WHEN transactions_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    false AS derived,
    CASE
        WHEN digital_transactions > transactions THEN 'digital transactions exceed all transactions'
        WHEN transactions = 0 THEN 'no transactions'
    END AS note
FROM facts
