-- Total cost / completed transactions (all channels). A supplied cost per transaction is used as
-- given; its total cost is derived. A cost with zero transactions is meaningless: invalid.
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    CASE
        WHEN transactions = 0 THEN NULL
        WHEN total_cost IS NOT NULL AND transactions > 0 THEN total_cost / transactions
        ELSE supplied_cpt
    END AS value,
    CASE WHEN transactions > 0 THEN total_cost END AS numerator,
    CASE WHEN transactions > 0 AND total_cost IS NOT NULL THEN transactions END AS denominator,
    CASE
        WHEN transactions = 0 AND (total_cost > 0 OR supplied_cpt IS NOT NULL) THEN 'invalid'
        WHEN transactions = 0 THEN 'not_provided'
        WHEN (total_cost IS NOT NULL AND transactions > 0) OR supplied_cpt IS NOT NULL THEN 'value'
        WHEN cost_invalid OR transactions_invalid THEN 'invalid'
        WHEN cost_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    total_cost_derived AS derived,
    CASE
        WHEN transactions = 0 AND (total_cost > 0 OR supplied_cpt IS NOT NULL) THEN 'a cost was given for zero transactions'
        WHEN supplied_cpt IS NOT NULL AND supplied_cost IS NULL THEN 'cost per transaction as supplied by the department'
    END AS note
FROM facts
