"""The authorization layer: pure decisions over Cedar policies, no I/O but loading them.

- `model`: the vocabulary (Category, Purpose, Division, Facts, Decision, ...)
- `policy`: load and validate a policy directory -> `PolicyBundle` (the only file reader)
- `decide`: `Authorizer.decide / may_perform / may_ever`, memoized, evaluated by Cedar
- `explain`, `matrix`, `diff`, `impact`, `cases`: what reviewers and `policy` commands read

Imports nothing of the rest of the gateway.
"""
