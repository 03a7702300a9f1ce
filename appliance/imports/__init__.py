"""Imports: bringing candidates, jobs and history in from other systems.

A data migration reads the file (`parsing`, against the import-v1 format of `schema`), checks it
(`validation`) and resolves it against the store (`resolution`), all as the dry run of
`planning`; `service` then imports the plan in one transaction, checked by `verification`, and
`report` renders dry runs and verification reports. Problems and errors live in `problems`.
"""
