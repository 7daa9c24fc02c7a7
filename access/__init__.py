"""The one way the dashboards and the reports read the published database: who is looking
(scope.py: roles, the roles file, sign-in rules, preview), reading one version of the file
read-only (reader.py), scoped query building with its SQL guard (queries.py), small-cell
suppression for funders (disclosure.py), and the access log file (access_log.py).

No Streamlit and no command-line settings here: paths (the published database, the roles file,
the access log) are arguments, and a result cache is something the caller may install."""
