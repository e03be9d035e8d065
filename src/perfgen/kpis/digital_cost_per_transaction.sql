-- Cost of the digital channel / digital transactions.
SELECT
    service, period_start, period_end, period_kind, '' AS method,
    CASE
        WHEN digital_transactions = 0 THEN NULL
        WHEN digital_cost IS NOT NULL AND digital_transactions > 0 THEN digital_cost / digital_transactions
        ELSE supplied_digital_cpt
    END AS value,
    CASE WHEN digital_transactions > 0 THEN digital_cost END AS numerator,
    CASE WHEN digital_transactions > 0 AND digital_cost IS NOT NULL THEN digital_transactions END AS denominator,
    CASE
        WHEN digital_transactions = 0 AND (digital_cost > 0 OR supplied_digital_cpt IS NOT NULL) THEN 'invalid'
        WHEN digital_transactions = 0 THEN 'not_provided'
        WHEN (digital_cost IS NOT NULL AND digital_transactions > 0) OR supplied_digital_cpt IS NOT NULL THEN 'value'
        WHEN digital_cost_invalid OR digital_transactions_invalid THEN 'invalid'
        WHEN cost_not_applicable THEN 'not_applicable'
        ELSE 'not_provided'
    END AS status,
    digital_cost_derived AS derived,
    CASE
        WHEN digital_transactions = 0 AND (digital_cost > 0 OR supplied_digital_cpt IS NOT NULL) THEN 'a digital cost was given for zero digital transactions'
        WHEN supplied_digital_cpt IS NOT NULL AND supplied_digital_cost IS NULL THEN 'digital cost per transaction as supplied by the department'
    END AS note
FROM facts
