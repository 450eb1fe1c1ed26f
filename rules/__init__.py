"""The school's AUP as code: one module per rule, each with its policy clause, severity and
remediation next to a pure `evaluate(snapshot, policy)`. No I/O here: rules know nothing
about Teams, Graph or the database."""
