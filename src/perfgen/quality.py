"""Data-quality checks: anomalies real exports contain, reported as coded warnings.

Each check is a query on the ``facts`` and ``clean_observations`` tables returning affected
service periods. The affected values are never published as KPI values (the KPI SQL marks them
invalid); the warnings feed the data-quality page, the build output and ``--strict``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Stable warning codes with what they mean (documented in the docs; a test keeps them in step).
WARNING_CODES = {
    "digital-above-total": "Digital transactions exceed all transactions for the period (digital take-up over 100%).",
    "completed-above-started": "More transactions completed than started (completion rate over 100%).",
    "cost-with-zero-volume": "A cost or cost per transaction was given for a period with zero transactions (all channels or digital).",
    "invalid-value": "A data file marked a figure as invalid (for example a spreadsheet cell that was not a number).",
    "stale-data": "The service's latest figures are older than the latest period on the site.",
    "no-data": "The service is in config/services.yml but has no figures at all.",
    "overdue": "The service declares how often it sends figures (monthly, quarterly or yearly) and its next figures are late: due a set number of days after their period ends (site.data_due_days), they have not arrived.",
}


@dataclass(frozen=True)
class QualityCheck:
    code: str
    sql: str  # returns service, period_start, period_end, detail


CHECKS = (
    QualityCheck(
        "digital-above-total",
        """SELECT service, period_start, period_end,
                  printf('digital transactions %s exceed all transactions %s', format('{:,}', digital_transactions::BIGINT), format('{:,}', transactions::BIGINT))
           FROM facts WHERE NOT summed AND digital_transactions > transactions""",
    ),
    QualityCheck(
        "completed-above-started",
        """SELECT service, period_start, period_end,
                  printf('%s completed but %s started', format('{:,}', completed::BIGINT), format('{:,}', started::BIGINT))
           FROM facts WHERE NOT summed AND completed > started""",
    ),
    QualityCheck(
        "cost-with-zero-volume",
        """SELECT service, period_start, period_end,
                  CASE WHEN supplied_cpt IS NOT NULL THEN printf('cost per transaction £%.2f given for zero transactions', supplied_cpt)
                       ELSE printf('cost £%s given for zero transactions', format('{:,.2f}', total_cost)) END
           FROM facts WHERE NOT summed AND transactions = 0 AND (supplied_cpt IS NOT NULL OR coalesce(total_cost, 0) > 0)
           UNION ALL
           SELECT service, period_start, period_end,
                  CASE WHEN supplied_digital_cpt IS NOT NULL THEN printf('digital cost per transaction £%.2f given for zero digital transactions', supplied_digital_cpt)
                       ELSE printf('digital cost £%s given for zero digital transactions', format('{:,.2f}', digital_cost)) END
           FROM facts WHERE NOT summed AND digital_transactions = 0 AND (supplied_digital_cpt IS NOT NULL OR coalesce(digital_cost, 0) > 0)""",
    ),
    QualityCheck(
        "invalid-value",
        """SELECT service, period_start, period_end,
                  printf('%s%s: %s (%s:%d)', metric, CASE WHEN channel = '' THEN '' ELSE ' (' || channel || ')' END,
                         coalesce(note, 'marked invalid'), file, line)
           FROM clean_observations WHERE status = 'invalid'""",
    ),
)
