"""Formatters: each renders an AuditResult (or an engine reading) and nothing else."""
