"""Make Great Expectations' SQL datasource work on DuckDB (see ../shared/notes/stack.md §4b).

GX returns a SQLAlchemy cursor after leaving its connection context; SQLAlchemy
then rolls back, and duckdb-engine's shared cursor empties the pending result,
so every metric fails with IndexError. Reading the rows before the connection
closes fixes it (fivetran/great_expectations#10738, #11579; duckdb_engine#734).
Remove this module when GX ships a native DuckDB engine (#12084).
"""

from __future__ import annotations

from typing import Any

MARK = "_welfare_audit_buffers_duckdb"


def patch_gx_for_duckdb() -> None:
    """Buffer query results inside the connection context for the duckdb dialect (idempotent:
    the patched method carries a mark, so a second call changes nothing)."""
    from great_expectations.execution_engine.sqlalchemy_execution_engine import (
        SqlAlchemyExecutionEngine,
    )

    original = SqlAlchemyExecutionEngine.execute_query
    if getattr(original, MARK, False):
        return

    def execute_query_buffered(self: Any, query: Any) -> Any:
        if self.dialect_name != "duckdb":
            return original(self, query)
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            return result.freeze()() if result.returns_rows else result

    setattr(execute_query_buffered, MARK, True)
    SqlAlchemyExecutionEngine.execute_query = execute_query_buffered  # type: ignore[method-assign]
