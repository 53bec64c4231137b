"""Model instances from plain SQL rows, for the few reads on every purchase where building the
query through the ORM costs more than running it. The instances are what the ORM would have
built: every concrete field, converted from its column as the ORM converts it."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


def columns(model: type[Model], alias: str) -> tuple[tuple[Field, ...], str]:
    """The model's concrete fields, and their columns qualified by `alias` for a SELECT list
    (in the order `model_from_row` takes them)."""
    fields = tuple(model._meta.concrete_fields)
    return fields, ", ".join(f'{alias}."{f.column}"' for f in fields)


def model_from_row(model: type[M], fields: tuple[Field, ...], values: tuple[Any, ...]) -> M:
    """An instance of `model` from its concrete fields' raw values (a part of a row)."""
    converted = []
    for field, value in zip(fields, values, strict=True):
        for convert in field.get_db_converters(connection):
            value = convert(value, field, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def model_insert(obj: Model, *, unless_taken: tuple[str, ...] = ()) -> bool:
    """INSERT a new instance in one plain statement, as `save()` would write it (auto_now
    fields filled, every value prepared by its field), and set its primary key.

    With `unless_taken` (the fields of a unique constraint), a row whose values are already
    taken is not written (`ON CONFLICT ... DO NOTHING`) and False is returned: the caller can
    pick other values without the savepoint that catching an IntegrityError needs.
    """
    meta = obj._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if f is not pk]
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(str(f.column)) for f in fields)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if unless_taken:
        column_of = {f.name: str(f.column) for f in fields}
        taken = ", ".join(quote(column_of[name]) for name in unless_taken)
        sql += f" ON CONFLICT ({taken}) DO NOTHING"
    sql += f" RETURNING {table}.{quote(str(pk.column))}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    setattr(obj, pk.attname, row[0])
    obj._state.adding, obj._state.db = False, connection.alias
    return True
