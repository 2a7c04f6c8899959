"""Kairos: the right service, to the customer who needs it, at the key moment.

The package behind the Airflow DAGs: the extract contract, ingestion, the dbt runner,
the gates, publishing, the portal and the command line (``kairos --help``). The
sample-extract generator is its own distribution, ``kairos_sample``.
"""

__version__ = "0.1.0"
