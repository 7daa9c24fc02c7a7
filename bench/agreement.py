"""Does the reference compute the same headline numbers as the published marts?

A floor that computed different numbers would not be a floor. `check(db, export_dir)` runs
bench/reference.sql and compares each of its five results with the marts in `db`, returning
the number of disagreeing rows per result (0 everywhere means the same numbers)."""
from __future__ import annotations

from pathlib import Path

import duckdb

from bench.floors import run_reference

# reference table -> the same numbers read from the marts (doubles rounded on both sides)
MART_QUERIES = {
    "ref_granted_by_vehicle": """
        SELECT vehicle, sum(motions_granted), sum(vacaturs_granted), sum(vacaturs_recognized),
               sum(vacaturs_uncertain), sum(vacaturs_not_recognized), sum(offense_reductions_granted),
               sum(sentence_modifications_granted), sum(sentence_modifications_honoured),
               sum(immigration_effective_granted)
        FROM pub.marts.mart_relief_granted GROUP BY vehicle""",
    "ref_grant_rates": """
        SELECT dimension_value, motions_decided, motions_granted, round(grant_rate, 9)
        FROM pub.marts.mart_motion_activity WHERE period = 'all' AND dimension IN ('all', 'vehicle')""",
    "ref_removal_avoided": """
        SELECT removal_avoided_status, count(*) FROM pub.marts.mart_removal_avoided GROUP BY 1""",
    "ref_km_medians": """
        SELECT measure, dimension_value, km_median_days FROM pub.marts.mart_time_to_resolution
        WHERE dimension IN ('all', 'vehicle')""",
    "ref_pro_bono": """
        SELECT partner_firm, round(hours, 4), attorneys_participating, cases_with_time, round(value_usd, 2)
        FROM pub.marts.mart_pro_bono WHERE period = 'all' AND partner_firm <> 'all'""",
}
ROUNDED = {
    "ref_grant_rates": "SELECT vehicle, motions_decided, motions_granted, round(grant_rate, 9) FROM ref_grant_rates",
    # Millions of hours summed in another order differ around the 7th decimal; hours are
    # recorded in tenths (value: multiples of $50), so 4 and 2 decimals are far from a tie.
    "ref_pro_bono": "SELECT partner_firm, round(hours, 4), attorneys_participating, cases_with_time, "
                    "round(value_usd, 2) FROM ref_pro_bono",
}


def check(db: Path, export_dir: Path) -> dict[str, int]:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        run_reference(con, export_dir)
        con.execute("ATTACH ? AS pub (READ_ONLY)", [str(db)])
        out = {}
        for table, mart_sql in MART_QUERIES.items():
            ref_sql = ROUNDED.get(table, f"SELECT * FROM {table}")
            out[table] = con.execute(
                f"SELECT count(*) FROM (({ref_sql}) EXCEPT ALL ({mart_sql})) "
                f"UNION ALL SELECT count(*) FROM (({mart_sql}) EXCEPT ALL ({ref_sql}))"
            ).fetchall()
            out[table] = sum(n for (n,) in out[table])
        return out
    finally:
        con.close()
