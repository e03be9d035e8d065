-- Transactions completed through the service's digital channels.
-- Never published when it exceeds the all-channel total (a data error, see the quality checks).
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    CASE WHEN NOT coalesce(digital_transactions > transactions, false) THEN digital_transactions END AS value,
    CASE WHEN NOT coalesce(digital_transactions > transactions, false) THEN digital_transactions END AS numerator,
    NULL::DOUBLE AS denominator,
    CASE
        WHEN digital_transactions > transactions THEN 'invalid'
        WHEN digital_transactions IS NOT NULL THEN 'value'
        WHEN digital_transactions_invalid THEN 'invalid'
        WHEN transactions_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    false AS derived,
    CASE WHEN digital_transactions > transactions THEN 'digital transactions exceed all transactions' END AS note
FROM facts
