"""Kairos: the right service, to the customer who needs it, at the key moment.

The package behind the Airflow DAGs: the extract contract, the sample-extract generator,
the ingestion loader and the command line (``kairos --help``).
"""

__version__ = "0.1.0"
