"""Database guarantees of the ledger: balanced transactions (checked at commit), immutable rows,
leg currency equal to its account's, and running balances maintained on insert."""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger AS $$
DECLARE
    unbalanced record;
    leg_count integer;
BEGIN
    SELECT count(*) INTO leg_count FROM ledger_leg WHERE transaction_id = NEW.transaction_id;
    IF leg_count < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has fewer than two legs', NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, sum(amount) AS total INTO unbalanced
      FROM ledger_leg WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced in % by %',
            NEW.transaction_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: post a correcting transaction instead'
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_leg_apply() RETURNS trigger AS $$
DECLARE
    acct record;
    target_bucket smallint := 0;
BEGIN
    SELECT currency, is_hot INTO acct FROM ledger_account WHERE id = NEW.account_id;
    IF acct.currency <> NEW.currency THEN
        RAISE EXCEPTION 'leg currency % differs from account % currency %',
            NEW.currency, NEW.account_id, acct.currency USING ERRCODE = 'check_violation';
    END IF;
    IF acct.is_hot THEN
        target_bucket := floor(random() * 16)::smallint;
    END IF;
    INSERT INTO ledger_accountbalance (account_id, bucket, balance)
         VALUES (NEW.account_id, target_bucket, NEW.amount)
    ON CONFLICT (account_id, bucket)
      DO UPDATE SET balance = ledger_accountbalance.balance + EXCLUDED.balance;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

TRIGGERS = r"""
CREATE CONSTRAINT TRIGGER ledger_leg_balanced
    AFTER INSERT ON ledger_leg DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE TRIGGER ledger_leg_apply BEFORE INSERT ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_leg_apply();
CREATE TRIGGER ledger_leg_immutable BEFORE UPDATE OR DELETE ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transaction_immutable BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_leg_no_truncate BEFORE TRUNCATE ON ledger_leg
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transaction_no_truncate BEFORE TRUNCATE ON ledger_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS ledger_transaction_no_truncate ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_leg_no_truncate ON ledger_leg;
DROP TRIGGER IF EXISTS ledger_transaction_immutable ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_leg_immutable ON ledger_leg;
DROP TRIGGER IF EXISTS ledger_leg_apply ON ledger_leg;
DROP TRIGGER IF EXISTS ledger_leg_balanced ON ledger_leg;
DROP FUNCTION IF EXISTS ledger_leg_apply();
DROP FUNCTION IF EXISTS ledger_refuse_change();
DROP FUNCTION IF EXISTS ledger_check_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunSQL(FUNCTIONS + TRIGGERS, REVERSE)]
