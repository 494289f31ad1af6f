"""orders' own tables."""

from __future__ import annotations

from shared.db import service_table_base
from shared.outbox import outbox_table

OrdersTable = service_table_base()
OrdersOutbox = outbox_table(OrdersTable, "orders_outbox")
metadata = OrdersTable.metadata
