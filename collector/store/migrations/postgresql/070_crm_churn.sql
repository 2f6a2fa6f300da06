-- Optional CRM columns churn models in this field use (collector/crm.py, rules.churn_risk).
ALTER TABLE subscribers ADD COLUMN tenure_months DOUBLE PRECISION;
ALTER TABLE subscribers ADD COLUMN complaints DOUBLE PRECISION;
ALTER TABLE subscribers ADD COLUMN arrears DOUBLE PRECISION
