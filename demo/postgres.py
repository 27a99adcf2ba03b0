"""A small tenant schema for `assay demo`: one table isolated properly, one that leaks.

Everything lives in the schema `assay_demo`, which `seed_demo` drops and recreates, so
seeding twice gives the same database; the application role (by default `app`, the
controls' default app_role) is created when missing.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

DEMO_SCHEMA = "assay_demo"
DEMO_APP_ROLE = "app"

_SEED = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {app_name}) THEN
        CREATE ROLE {app} LOGIN;
    END IF;
END $$;
DROP SCHEMA IF EXISTS {schema} CASCADE;
CREATE SCHEMA {schema};
GRANT USAGE ON SCHEMA {schema} TO {app};

-- Isolated: RLS enabled and forced, one policy on the tenant setting, owned by the
-- connecting (migration) role, the application only granted DML.
CREATE TABLE {schema}.invoices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id integer NOT NULL,
    amount_cents bigint NOT NULL
);
ALTER TABLE {schema}.invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE {schema}.invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {schema}.invoices
    USING (tenant_id = current_setting('rls.tenant_id')::integer);
GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.invoices TO {app};

-- Leaking: owned by the application role, RLS enabled but not forced, and a policy
-- that ignores the tenant.
CREATE TABLE {schema}.projects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id integer NOT NULL,
    name text NOT NULL
);
ALTER TABLE {schema}.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone ON {schema}.projects USING (true);
ALTER TABLE {schema}.projects OWNER TO {app};

-- Shared reference data: no tenant column, so the tenant controls do not apply.
CREATE TABLE {schema}.plans (id integer PRIMARY KEY, name text NOT NULL);
GRANT SELECT ON {schema}.plans TO {app};

INSERT INTO {schema}.invoices (tenant_id, amount_cents)
    VALUES (1, 1200), (1, 4500), (2, 9900);
INSERT INTO {schema}.projects (tenant_id, name)
    VALUES (1, 'apollo'), (2, 'borealis'), (2, 'cygnus');
INSERT INTO {schema}.plans VALUES (1, 'free'), (2, 'team');
"""


def seed_demo(dsn: str, app_role: str = DEMO_APP_ROLE) -> dict[str, Any]:
    """Build the demo schema in the database `dsn` names, as a role that may create roles.

    `app_role` is the application's role (created when missing); the tenant controls
    expect `app` unless their app_role param says otherwise. Returns the qualified
    names of the tables by what the tenant controls find there (`isolated`, `leaking`,
    `not_tenant`), the app role, and a one-line `summary`.
    """
    statements = sql.SQL(_SEED).format(
        schema=sql.Identifier(DEMO_SCHEMA),
        app=sql.Identifier(app_role),
        app_name=sql.Literal(app_role),
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statements)
    tables = {
        "isolated": f"{DEMO_SCHEMA}.invoices",
        "leaking": f"{DEMO_SCHEMA}.projects",
        "not_tenant": f"{DEMO_SCHEMA}.plans",
    }
    return {
        "schema": DEMO_SCHEMA,
        "app_role": app_role,
        "tables": tables,
        "summary": (
            f"a tenant schema {DEMO_SCHEMA}: invoices (RLS forced, tenant policy), "
            f"projects (owned by {app_role}, RLS not forced, policy USING (true)), "
            "plans (no tenant column)"
        ),
    }


def demo_target(dsn: str, name: str = "postgres-demo") -> dict[str, Any]:
    """The profile target for the seeded database: `dsn` (which must hold no password),
    with table collection limited to the demo schema."""
    return {"name": name, "provider": "postgres", "dsn": dsn, "schemas": [DEMO_SCHEMA]}
