"""Hiring: requisitions, interviews, candidates, candidate links, reviews and decisions.

The rules behind the web pages live in `requisitions`, `competency_models`, `candidates`,
`candidate_views`, `tech_rounds`, `dashboard` and `report_views` (what they share is in
`common`). Every function takes the acting principal (or the visibility a view was granted),
checks the permission table, validates its input and writes the audit entry in the same
transaction as the change. The web layer only parses forms and renders what these functions
return.
"""
