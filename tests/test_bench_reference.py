"""The benchmark's hand-written reference (bench/reference.sql) counts people as the marts do:
client ids of one A-number, however spelled, are one client (docs/glossary.md, 'Clients are
people'), known by the id of the earliest intake, with the relief and outcomes of every id."""
from __future__ import annotations

import csv

import duckdb

from bench.floors import run_reference

HEADERS = {
    "clients": "client_id,first_name,last_name,full_name,a_number,date_of_birth,intake_date,country_of_birth,"
               "primary_language,county_of_residence,immigration_status,in_removal_proceedings,"
               "final_removal_order,detained_at_intake",
    "cases": "case_id,client_id,intake_date,eligibility,eligibility_date,referral_date,partner_firm,attorney_id,"
             "case_status,closed_date",
    "convictions": "conviction_id,case_id,county,court_case_number,offense_code,offense_level,conviction_date,"
                   "removal_ground,removal_ground_type",
    "motions": "motion_id,conviction_id,vehicle,filing_date,hearing_date,decision_date,outcome,result_type,"
               "grant_ground,order_states_ground,order_cites_subsection,relied_on_relief,refiled_from_motion_id,"
               "disposition_after_vacatur",
    "immigration_events": "event_id,client_id,event_type,event_date",
    "time_entries": "entry_id,case_id,partner_firm,attorney_id,entry_date,hours",
}


def write_exports(folder, rows: dict[str, list[str]]) -> None:
    for table, header in HEADERS.items():
        with open(folder / f"{table}_2026-10-31.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header.split(","))
            for row in rows.get(table, []):
                writer.writerow(row.split(","))


def test_reference_merges_client_ids_of_one_a_number(tmp_path):
    write_exports(tmp_path, {
        "clients": [
            # Earliest intake, not exposed by its own record, an outcome recorded under this id.
            "CL-1,A,B,A B,A 14045379,1980-01-01,2020-01-10,Mexico,Spanish,Fresno,lpr,false,false,false",
            # Later intake of the same A-number in another spelling: the removal-ground conviction.
            "CL-2,C,D,C D,014-045-379,1980-01-01,2021-03-01,Mexico,Spanish,Fresno,lpr,false,false,false",
            # No A-number: a person of its own, in proceedings, nothing done yet.
            "CL-3,E,F,E F,,1990-01-01,2021-03-01,Mexico,Spanish,Fresno,lpr,true,false,false",
        ],
        "cases": [
            "CS-1,CL-1,2020-01-10,eligible,2020-01-20,,,,closed,2020-06-01",
            "CS-2,CL-2,2021-03-01,eligible,2021-03-05,2021-04-01,Firm LLP,ATT-1,closed,2022-01-01",
            "CS-3,CL-3,2021-03-01,eligible,2021-03-05,,,,closed,2021-09-01",
        ],
        "convictions": ["CV-2,CS-2,Fresno,X,HS 11350,felony,2015-01-01,true,controlled_substance"],
        "motions": ["MO-2,CV-2,PC 1016.5,2021-05-01,2021-10-01,2021-10-01,granted,vacatur,legal_defect,"
                    "true,true,,,dismissed"],
        "immigration_events": ["IE-1,CL-1,proceedings_terminated,2022-02-01"],
    })
    con = duckdb.connect()
    run_reference(con, tmp_path)
    rows = con.execute("SELECT client_id, relief_motion_id, status FROM removal_avoided ORDER BY 1").fetchall()
    assert rows == [("CL-1", "MO-2", "confirmed"), ("CL-3", None, "no_effective_relief")]
