"""Grant reports for funders: configuration (grants.py), the data a report rests on
(asof.py), the numbers with disclosure control (build.py) and the files (render.py).
Command: `pcr report` (pcr/report.py); page: dashboards/views/grant_report.py."""
