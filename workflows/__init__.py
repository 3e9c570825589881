"""The engine around SpiffWorkflow: definitions, instances, the inbox table, task actions,
service-task actions, timers and the audit trail. The only package that imports SpiffWorkflow."""
