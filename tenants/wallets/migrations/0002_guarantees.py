"""Database guarantees of the member ledger in each site schema: balanced transactions
(checked at commit), immutable transactions and entries, entry currency equal to its account's.

The functions live in the site's schema and name their tables through TG_TABLE_SCHEMA, so they
work whatever the connection's search_path is at commit, and in schemas that are renamed (the
pool) or cloned (the template).
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION wallets_check_balanced() RETURNS trigger AS $$
DECLARE
    entry_count integer;
    bad_currency text;
    bad_total numeric;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I.wallets_memberentry WHERE transaction_id = $1',
                   TG_TABLE_SCHEMA)
       INTO entry_count USING NEW.transaction_id;
    IF entry_count < 2 THEN
        RAISE EXCEPTION 'member transaction % has fewer than two entries', NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('SELECT currency, sum(amount) FROM %I.wallets_memberentry '
                   'WHERE transaction_id = $1 GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1',
                   TG_TABLE_SCHEMA)
       INTO bad_currency, bad_total USING NEW.transaction_id;
    IF bad_currency IS NOT NULL THEN
        RAISE EXCEPTION 'member transaction % is unbalanced in % by %',
            NEW.transaction_id, bad_currency, bad_total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION wallets_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'member ledger rows are immutable: post a correcting transaction instead'
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION wallets_entry_currency() RETURNS trigger AS $$
DECLARE
    account_currency text;
BEGIN
    EXECUTE format('SELECT currency FROM %I.wallets_memberaccount WHERE id = $1', TG_TABLE_SCHEMA)
       INTO account_currency USING NEW.account_id;
    IF account_currency IS DISTINCT FROM NEW.currency THEN
        RAISE EXCEPTION 'entry currency % differs from account % currency %',
            NEW.currency, NEW.account_id, account_currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

TRIGGERS = r"""
CREATE CONSTRAINT TRIGGER wallets_entry_balanced
    AFTER INSERT ON wallets_memberentry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_check_balanced();
CREATE TRIGGER wallets_entry_currency BEFORE INSERT ON wallets_memberentry
    FOR EACH ROW EXECUTE FUNCTION wallets_entry_currency();
CREATE TRIGGER wallets_entry_immutable BEFORE UPDATE OR DELETE ON wallets_memberentry
    FOR EACH ROW EXECUTE FUNCTION wallets_refuse_change();
CREATE TRIGGER wallets_transaction_immutable BEFORE UPDATE OR DELETE ON wallets_membertransaction
    FOR EACH ROW EXECUTE FUNCTION wallets_refuse_change();
CREATE TRIGGER wallets_entry_no_truncate BEFORE TRUNCATE ON wallets_memberentry
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_refuse_change();
CREATE TRIGGER wallets_transaction_no_truncate BEFORE TRUNCATE ON wallets_membertransaction
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_refuse_change();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS wallets_transaction_no_truncate ON wallets_membertransaction;
DROP TRIGGER IF EXISTS wallets_entry_no_truncate ON wallets_memberentry;
DROP TRIGGER IF EXISTS wallets_transaction_immutable ON wallets_membertransaction;
DROP TRIGGER IF EXISTS wallets_entry_immutable ON wallets_memberentry;
DROP TRIGGER IF EXISTS wallets_entry_currency ON wallets_memberentry;
DROP TRIGGER IF EXISTS wallets_entry_balanced ON wallets_memberentry;
DROP FUNCTION IF EXISTS wallets_entry_currency();
DROP FUNCTION IF EXISTS wallets_refuse_change();
DROP FUNCTION IF EXISTS wallets_check_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial")]
    operations = [migrations.RunSQL(FUNCTIONS + TRIGGERS, REVERSE)]
