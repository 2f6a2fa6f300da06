-- Optional CRM columns churn models in this field use (collector/crm.py, rules.churn_risk).
ALTER TABLE subscribers ADD COLUMN tenure_months REAL;
ALTER TABLE subscribers ADD COLUMN complaints REAL;
ALTER TABLE subscribers ADD COLUMN arrears REAL
