"""Importers: turn other systems' exports into a perfgen project (config and data files).

Each importer reads one kind of export and writes ``config/services.yml`` and canonical long
CSV files under ``data/``. It never publishes anything itself.
"""

from perfgen.importers.transactions_explorer import (
    ImportReport,
    TransactionsExplorerError,
    import_transactions_explorer,
    write_project,
)

__all__ = [
    "ImportReport",
    "TransactionsExplorerError",
    "import_transactions_explorer",
    "write_project",
]
