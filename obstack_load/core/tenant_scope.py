"""The database's tenancy contract, shared by the reference platform and the database users:
the role that row-level security binds, the setting that names the tenant, and how a
connection takes them on.

Both sides import it, and neither imports the other: the suite never loads the platform's
state, storage or backend modules into a Locust process.
"""

from __future__ import annotations

from typing import Any

TENANT_ROLE = "obstack_tenant"
TENANT_SETTING = "obstack.tenant_id"


def as_tenant(conn: Any, tenant_id: str) -> None:
    """This psycopg connection acts for one tenant from here on: the role the policies bind,
    and its id."""
    conn.execute(f"SET ROLE {TENANT_ROLE}")
    conn.execute(f"SELECT set_config('{TENANT_SETTING}', %s, false)", (tenant_id,))
