"""Row-level security made cheaper to plan and to test per row; what it lets through is unchanged.

The server's statements are planned anew each time (psycopg prepares a statement only
after it has run a few times on one connection, and forgets every one at the rollback
that ends each read), so what a policy costs the planner is paid by every statement, once
for every table with a policy that it reads (``benchmarks/security.py``).

* The helper functions of migration 0022 (``wangge_role()``, ``wangge_sees_all()``,
  ``wangge_grid_ids()``, ``wangge_user_id()``, ``wangge_worker_id()``) become PL/pgSQL,
  with the same bodies.  As SQL functions the planner inlined them: it parsed and
  analysed their text again for every ``(SELECT wangge_…())`` of every policy of every
  statement, about 47 µs of planning for the households' policy against 15 µs now.
  Each is still called once per statement (the ``(SELECT …)`` makes it an InitPlan).
* Two helpers fold the role's test into the value, so that the test of each row is one
  comparison instead of a role compared with a list of three and then the grid:

  - ``wangge_seen_grids()``: the grids whose rows the caller sees through their area,
    none for a resident, an anonymous request or nothing set (``wangge_grid_ids()``
    otherwise);
  - ``wangge_assigned_worker()``: the caller's worker id when they act as a grid worker,
    else NULL (which no ``assignee_id`` equals).

  The households' policy (also the residents', identities', visits', check-on marks' and
  alert recipients') reads ``sees all OR grid_id = ANY(wangge_seen_grids())``, the
  incidents' ``sees all OR grid_id = ANY(wangge_seen_grids()) OR assignee_id =
  wangge_assigned_worker() OR reporter_id = wangge_user_id()``: row for row the same
  answer as before, with one InitPlan fewer per table and no text compared per row.
* The households' kind of policy takes the grids as ``ARRAY(SELECT unnest(…))``: an
  array of a few grids handed over by a ``(SELECT …)`` comes in the short form of a
  stored value, which ``= ANY`` copies out again for every row it tests (80 ns a row
  against 50; a community's households, residents and identities are read by the
  thousand).  The incidents' policy keeps the ``(SELECT …)``, cheaper to plan: the case
  desk reads a page of cases down an index, few rows and two statements a page.

Revision ID: 0028
Revises: 0027
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

S = "(SELECT wangge_sees_all())"
R = "(SELECT wangge_role())"
U = "(SELECT wangge_user_id())"
STAFF = f"{R} IN ('community_staff', 'street_staff', 'admin')"

#: What 0022 (and 0025, 0027) wrote: the role tested on every row, then the grid.
OLD_G = "(SELECT wangge_grid_ids())::integer[]"
OLD_W = "(SELECT wangge_worker_id())"
OLD_IN_GRIDS = f"({S} OR ({R} NOT IN ('resident', 'anonymous', '') AND grid_id = ANY({OLD_G})))"
OLD_INCIDENT = (
    f"({S} OR ({R} NOT IN ('resident', 'anonymous', '') AND grid_id = ANY({OLD_G})) "
    f"OR ({R} = 'grid_worker' AND assignee_id = {OLD_W}) OR reporter_id = {U})"
)

#: The same rows, the role folded into the values (one comparison a row).
SEEN = "(SELECT wangge_seen_grids())::integer[]"
#: As :data:`SEEN`, built as an array by the InitPlan (not copied again for each row).
SEEN_BUILT = "ARRAY(SELECT unnest(wangge_seen_grids()))"
IN_GRIDS = f"({S} OR grid_id = ANY({SEEN_BUILT}))"
INCIDENT = (
    f"({S} OR grid_id = ANY({SEEN}) OR assignee_id = (SELECT wangge_assigned_worker()) "
    f"OR reporter_id = {U})"
)

#: Tables whose one policy ``wangge_rows`` is the households' (USING and WITH CHECK).
ROWS_IN_GRIDS = ("household", "resident", "resident_identity", "household_visit", "checkon_mark")
#: Tables with a policy per command; their INSERT checks stay as they are, but the
#: incidents', which repeats the SELECT policy.
COMMANDS = ("select", "update", "delete")


def _policies(in_grids: str, incident: str) -> list[str]:
    out = [
        f"ALTER POLICY wangge_rows ON {table} USING {in_grids} WITH CHECK {in_grids}"
        for table in ROWS_IN_GRIDS
    ]
    for command in COMMANDS:
        out.append(f"ALTER POLICY wangge_{command} ON alert_recipient USING {in_grids}")
        out.append(f"ALTER POLICY wangge_{command} ON incident USING {incident}")
    out.append(f"ALTER POLICY wangge_insert ON incident WITH CHECK ({incident} OR {STAFF})")
    return out


#: The helpers of 0022, body for body, as PL/pgSQL: called, never inlined.
PLPGSQL = """
CREATE OR REPLACE FUNCTION wangge_role() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN coalesce(current_setting('wangge.role', true), ''); END $$;

CREATE OR REPLACE FUNCTION wangge_sees_all() RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN coalesce(current_setting('wangge.role', true) = 'system'
       OR (current_setting('wangge.role', true) NOT IN ('', 'anonymous')
           AND current_setting('wangge.grid_ids', true) = '*'), false); END $$;

CREATE OR REPLACE FUNCTION wangge_grid_ids() RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN CASE WHEN coalesce(current_setting('wangge.grid_ids', true), '') IN ('', '*')
            THEN '{}'::integer[]
            ELSE string_to_array(current_setting('wangge.grid_ids', true), ',')::integer[] END;
   END $$;

CREATE OR REPLACE FUNCTION wangge_user_id() RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN nullif(current_setting('wangge.user_id', true), '')::bigint; END $$;

CREATE OR REPLACE FUNCTION wangge_worker_id() RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN nullif(current_setting('wangge.worker_id', true), '')::bigint; END $$;

-- the grids whose rows the caller sees through their area: none for a resident, an
-- anonymous request or nothing set
CREATE FUNCTION wangge_seen_grids() RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN CASE WHEN wangge_role() IN ('resident', 'anonymous', '') THEN '{}'::integer[]
                    ELSE wangge_grid_ids() END; END $$;

-- the caller's worker id when they act as a grid worker, else NULL
CREATE FUNCTION wangge_assigned_worker() RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN CASE WHEN wangge_role() = 'grid_worker' THEN wangge_worker_id() END; END $$;
"""

#: The helpers as 0022 created them (SQL, inlined by the planner).
SQL = """
CREATE OR REPLACE FUNCTION wangge_role() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('wangge.role', true), '') $$;

CREATE OR REPLACE FUNCTION wangge_sees_all() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('wangge.role', true) = 'system'
       OR (current_setting('wangge.role', true) NOT IN ('', 'anonymous')
           AND current_setting('wangge.grid_ids', true) = '*'), false) $$;

CREATE OR REPLACE FUNCTION wangge_grid_ids() RETURNS integer[] LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN coalesce(current_setting('wangge.grid_ids', true), '') IN ('', '*')
            THEN '{}'::integer[]
            ELSE string_to_array(current_setting('wangge.grid_ids', true), ',')::integer[] END $$;

CREATE OR REPLACE FUNCTION wangge_user_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('wangge.user_id', true), '')::bigint $$;

CREATE OR REPLACE FUNCTION wangge_worker_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('wangge.worker_id', true), '')::bigint $$;
"""


def upgrade() -> None:
    op.execute(PLPGSQL)
    for statement in _policies(IN_GRIDS, INCIDENT):
        op.execute(statement)


def downgrade() -> None:
    for statement in _policies(OLD_IN_GRIDS, OLD_INCIDENT):
        op.execute(statement)
    op.execute("DROP FUNCTION wangge_assigned_worker()")
    op.execute("DROP FUNCTION wangge_seen_grids()")
    op.execute(SQL)
