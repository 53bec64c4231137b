"""A card key's batch, SKU and supplier are checked once per INSERT statement, not per row.

The three single-column foreign keys of `vault_cardkey` cost a million-key import one index
probe and one row lock each per key at commit, about as much again as writing the keys. They
are replaced by one rule the database still enforces, set-based:

- a statement trigger checks that each distinct (batch, SKU, supplier) of the rows an INSERT
  or COPY just added is an existing import batch's own (id, SKU, supplier); the batch's
  foreign keys hold the SKU and the supplier;
- a key's batch, SKU and supplier can never be updated;
- an import batch is deleted only once no key points at it (never truncated), and its id,
  SKU and supplier never change. The insert check rewrites each batch it finds in place, so
  a concurrent delete of that batch waits for the insert and then sees its keys, or fails to
  serialise, as PostgreSQL's own foreign keys behave.

Keys stored before without a batch of their own SKU and supplier (none are, through the import
service) first get one adopted batch per SKU and supplier, so every existing row obeys the
rule. The index on the supplier now leaves out keys without one.
"""

import django.db.models.deletion
from django.db import migrations, models

ADOPTED_BY = "vault migration 0004"

ADOPT_ORPHANS = [
    # Checked as each statement ends: deferred checks still pending when the table is
    # altered below would make PostgreSQL refuse the ALTER TABLE.
    "SET CONSTRAINTS ALL IMMEDIATE",
    """
    UPDATE vault_cardkey AS k SET batch_id = NULL
    FROM vault_importbatch AS b
    WHERE b.id = k.batch_id
        AND (b.sku_id <> k.sku_id OR b.supplier_id IS DISTINCT FROM k.supplier_id)
    """,
    f"""
    INSERT INTO vault_importbatch (sku_id, supplier_id, source, filename, created_by,
        created_at, deduplicated, accepted, duplicates, malformed, report)
    SELECT sku_id, supplier_id, 'paste', '', '{ADOPTED_BY}', min(created_at), true, count(*),
        0, 0, '[]'::jsonb
    FROM vault_cardkey WHERE batch_id IS NULL
    GROUP BY sku_id, supplier_id
    """,
    f"""
    UPDATE vault_cardkey AS k SET batch_id = b.id
    FROM vault_importbatch AS b
    WHERE k.batch_id IS NULL AND b.created_by = '{ADOPTED_BY}' AND b.sku_id = k.sku_id
        AND b.supplier_id IS NOT DISTINCT FROM k.supplier_id
    """,
]

CREATE_RULES = [
    """
    CREATE FUNCTION vault_card_keys_check_batches() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        missing boolean;
    BEGIN
        -- Each batch the rows point at is found and rewritten in place (a no-op update): a
        -- transaction deleting it concurrently then waits for this one and, once it commits,
        -- sees the keys (READ COMMITTED) or fails to serialise (REPEATABLE READ and up); a
        -- batch deleted first is not found here.
        WITH wanted AS (
            SELECT DISTINCT batch_id, sku_id, supplier_id FROM inserted_keys
        ), found AS (
            UPDATE vault_importbatch AS b SET accepted = b.accepted
            FROM wanted AS k
            WHERE b.id = k.batch_id AND b.sku_id = k.sku_id
                AND b.supplier_id IS NOT DISTINCT FROM k.supplier_id
            RETURNING b.id
        )
        -- A batch matches at most one distinct (batch, sku, supplier): fewer batches found
        -- than triples wanted means some rows point at no batch of their SKU and supplier.
        SELECT (SELECT count(*) FROM wanted) > (SELECT count(*) FROM found) INTO missing;
        IF missing THEN
            RAISE EXCEPTION 'card keys must belong to an import batch of their SKU and supplier'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'vault_cardkey';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER card_key_batch_check AFTER INSERT ON vault_cardkey
    REFERENCING NEW TABLE AS inserted_keys
    FOR EACH STATEMENT EXECUTE FUNCTION vault_card_keys_check_batches()
    """,
    """
    CREATE FUNCTION vault_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%', TG_ARGV[0]
            USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME;
    END
    $$
    """,
    """
    CREATE TRIGGER card_key_batch_fixed BEFORE UPDATE OF batch_id, sku_id, supplier_id
    ON vault_cardkey FOR EACH ROW
    WHEN (OLD.batch_id IS DISTINCT FROM NEW.batch_id OR OLD.sku_id IS DISTINCT FROM NEW.sku_id
        OR OLD.supplier_id IS DISTINCT FROM NEW.supplier_id)
    EXECUTE FUNCTION vault_refuse('the batch, SKU and supplier of a card key never change')
    """,
    """
    CREATE FUNCTION vault_import_batch_check_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM vault_cardkey WHERE batch_id = OLD.id) THEN
            RAISE EXCEPTION 'import batch % still holds card keys', OLD.id
                USING ERRCODE = 'foreign_key_violation', TABLE = 'vault_importbatch';
        END IF;
        RETURN OLD;
    END
    $$
    """,
    """
    CREATE TRIGGER import_batch_kept BEFORE DELETE ON vault_importbatch FOR EACH ROW
    EXECUTE FUNCTION vault_import_batch_check_delete()
    """,
    """
    CREATE TRIGGER import_batch_no_truncate BEFORE TRUNCATE ON vault_importbatch
    FOR EACH STATEMENT EXECUTE FUNCTION vault_refuse('import batches are never truncated')
    """,
    """
    CREATE TRIGGER import_batch_fixed BEFORE UPDATE OF id, sku_id, supplier_id
    ON vault_importbatch FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.sku_id IS DISTINCT FROM NEW.sku_id
        OR OLD.supplier_id IS DISTINCT FROM NEW.supplier_id)
    EXECUTE FUNCTION vault_refuse('the id, SKU and supplier of an import batch never change')
    """,
]

DROP_RULES = [
    "DROP TRIGGER IF EXISTS import_batch_fixed ON vault_importbatch",
    "DROP TRIGGER IF EXISTS import_batch_no_truncate ON vault_importbatch",
    "DROP TRIGGER IF EXISTS import_batch_kept ON vault_importbatch",
    "DROP TRIGGER IF EXISTS card_key_batch_fixed ON vault_cardkey",
    "DROP TRIGGER IF EXISTS card_key_batch_check ON vault_cardkey",
    "DROP FUNCTION IF EXISTS vault_import_batch_check_delete()",
    "DROP FUNCTION IF EXISTS vault_refuse()",
    "DROP FUNCTION IF EXISTS vault_card_keys_check_batches()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("suppliers", "0001_initial"),
        ("vault", "0003_leaner_indexes"),
    ]

    operations = [
        migrations.RunSQL(ADOPT_ORPHANS, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="cardkey",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="keys",
                to="vault.importbatch",
            ),
        ),
        migrations.AlterField(
            model_name="cardkey",
            name="sku",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="card_keys",
                to="catalog.sku",
            ),
        ),
        migrations.AlterField(
            model_name="cardkey",
            name="supplier",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="card_keys",
                to="suppliers.supplier",
            ),
        ),
        migrations.AddIndex(
            model_name="cardkey",
            index=models.Index(
                condition=models.Q(("supplier__isnull", False)),
                fields=["supplier"],
                name="card_key_supplier_idx",
            ),
        ),
        migrations.RunSQL(CREATE_RULES, reverse_sql=DROP_RULES),
    ]
