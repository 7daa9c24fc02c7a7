"""Grant reports for funders and partner firms' impact reports. Modules, each importing only
those above it:
  periods, metrics, dimensions, tables, vocabulary, availability   definitions (no reports import)
  grants      the grants file, a grant's periods, a report's suppression threshold
  asof        the data a report rests on (a past period rebuilt as known then, by a callable given)
  scoped      exact counts of a grant's scope
  demographics, build   the numbers with disclosure control
  render, partner       the files
Paths are arguments: nothing here reads the environment or imports pcr.
Command: `pcr report` (pcr/commands/report.py); page: dashboards/views/grant_report.py."""
