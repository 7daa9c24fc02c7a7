"""Deterministic synthetic program exports (no real people) in every shipped layout.

`generate()` builds one synthetic dataset as canonical records (the contract's tables, PII
columns included, as an export would carry them) as they stand on the synthetic today,
AS_OF. Messiness is decided on those records, so every layout renders the same problems on
the same records. `snapshot()` gives the same program's records as an export made on an
earlier day would carry them. `expressible()` keeps the records a layout's export can carry
(case_manager's holds eligible cases only). `write_samples()` renders each layout
(ingest/layouts/*.yml) as CSV and/or XLSX from its YAML, each rendering being the program's
export of one day (EXPORTS) of the records it can carry, and writes a manifest with counts (no
names, A-numbers or dates of birth). Every column map entry form is written so that ingest reads
the record's value back: a blank for a value mapped from the empty word, the checkbox and
dropdown columns of a `cases:` entry, one of the columns of `first_of`, the text that `clean:`
strips; a constant, a key made from columns or a column not available gets no column.

Files carry their export date in their name: <out>/<layout>/csv/<file>_<date>.csv, one per
file of the layout's mapping, and <out>/<layout>/xlsx/<layout>_<date>.xlsx, one workbook per
layout with one sheet per file (the date as FILE_DATE_STAMPS says, which the layout's
export_date pattern reads back where the stamp is not ISO).

Spellings and date formats are drawn per record (a hash of the record's key and the column),
not per row: an exact duplicate row stays exact, a client repeated on several tracker rows is
spelled the same on each, and the CSV and XLSX renderings agree.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import CALIFORNIA_COUNTIES, OFFENSE_LEVELS, TABLE_ORDER, TABLES
from ingest.engine import VEHICLE_TAXONOMY_CSV
from ingest import layouts
from ingest.layouts import BUNDLED_LAYOUTS_DIR

DEFAULT_SEED = 2026
DEFAULT_MESSY_RATE = 0.03
LAYOUTS = ("canonical", "case_tracker", "cms_report")
# Written only when asked for (--layouts), never into the bundled samples: its time export has no
# entry id, so ingest makes each entry's key from its columns, and loaded beside the other
# renderings the same hours would count twice under two keys. It carries only the program's
# eligible cases (expressible()).
ON_REQUEST_LAYOUTS = ("case_manager",)
FORMATS = ("csv", "xlsx")
# Calibrated so that n_motions requested ~ motions generated (see tests/test_synth.py).
MOTIONS_PER_CLIENT = 1.44

EPOCH = np.datetime64("1970-01-01", "D")
NAT = np.iinfo(np.int64).min  # int64 view of numpy NaT: days arrays use it for "no date"
PROGRAM_START = dt.date(2016, 1, 1)
AS_OF = dt.date(2026, 10, 31)  # the synthetic "today": nothing happens after it
SENTENCE_RULE_DATE = dt.date(2019, 10, 25)  # Matter of Thomas & Thompson
PC372_5_START = dt.date(2023, 1, 1)
EXCEL_MAX_ROWS = 1_048_576

# The program's exports: one a quarter, about three weeks after the quarter closed, the last on
# the synthetic today. Each rendering (layout, format) is one of them, so loading all six gives
# a history of versions and every closed quarter of the example grant
# (config/grants.example.yml, close_after_days 45) an export within its reporting window. The
# canonical CSV is the complete, latest state: benchmarks and tests that load one rendering use it.
EXPORTS = {
    ("cms_report", "xlsx"): dt.date(2025, 7, 21),
    ("cms_report", "csv"): dt.date(2025, 10, 20),
    ("case_tracker", "xlsx"): dt.date(2026, 1, 20),
    ("canonical", "xlsx"): dt.date(2026, 4, 20),
    ("case_tracker", "csv"): dt.date(2026, 7, 20),
    ("canonical", "csv"): AS_OF,
    # Made on the synthetic today, as the canonical CSV: the same records in another layout.
    ("case_manager", "csv"): AS_OF,
    ("case_manager", "xlsx"): AS_OF,
}
# How each layout's system stamps the export date into a file name (default ISO, which ingest
# reads from any name); cms_report's is read by the export_date pattern of cms_report.yml.
FILE_DATE_STAMPS = {"cms_report": "%m%d%Y"}

# Rows a system's report puts above the header ({date}: the export date, as the system writes it).
TITLE_ROWS = {
    ("case_manager", "motions"): ("PCR Motions Report", "Run {date:%m/%d/%Y} - all matters that passed screening"),
}
# Columns a layout's system writes in capitals ("LOS ANGELES COUNTY").
CAPITALISED = {"case_manager": ("county_of_residence", "county")}

# Messy kinds. Rejecting kinds should be refused by ingest; the others load cleanly.
REJECTING_KINDS = ("missing_required_date", "decided_without_date", "decision_before_filing",
                   "unknown_vehicle", "unmapped_outcome")
HARMLESS_KINDS = ("duplicate_row", "stray_whitespace")
# Which kinds each table receives. Only leaf tables get rejecting kinds, so a rejected record
# never orphans another record and the clean part is the same in every layout.
MESSY_KINDS = {
    "clients": ("stray_whitespace",),
    "cases": ("stray_whitespace",),
    "convictions": ("stray_whitespace",),
    "motions": ("decided_without_date", "decision_before_filing", "unknown_vehicle",
                "unmapped_outcome", "duplicate_row", "stray_whitespace"),
    "immigration_events": ("missing_required_date", "duplicate_row"),
    "time_entries": ("missing_required_date", "duplicate_row", "stray_whitespace"),
}
# Columns given stray whitespace: free text or enums no layout maps through `values:`,
# so ingest has to strip them before validating.
WHITESPACE_COLUMNS = {
    "clients": ("county_of_residence", "country_of_birth"),
    "cases": ("partner_firm",),
    "convictions": ("county", "offense_code"),
    "motions": ("vehicle",),
    "time_entries": ("attorney_id",),
}
BAD_VEHICLES = ("PC 1473.9", "vacate motion", "PC 1437.7(a)(1)", "Motion to vacate (TBD)")
BAD_OUTCOMES = ("Grantd", "See notes", "Allowed", "Under submission")

# Layouts whose YAML has no `booleans:` list: the spellings their exports use.
UNLISTED_BOOLEANS = {
    "canonical": (("true",), ("false",)),
    "case_tracker": (("Yes", "Y"), ("No", "N")),
}

# --- Reference distributions ------------------------------------------------------------

# 2020 census population in thousands, floored at 15 so the smallest counties still appear.
COUNTY_POPULATION = {
    "Alameda": 1682, "Alpine": 1.2, "Amador": 40, "Butte": 211, "Calaveras": 46, "Colusa": 22,
    "Contra Costa": 1166, "Del Norte": 28, "El Dorado": 192, "Fresno": 1008, "Glenn": 29,
    "Humboldt": 136, "Imperial": 180, "Inyo": 19, "Kern": 909, "Kings": 153, "Lake": 68,
    "Lassen": 33, "Los Angeles": 10014, "Madera": 157, "Marin": 262, "Mariposa": 17,
    "Mendocino": 91, "Merced": 281, "Modoc": 8.7, "Mono": 13, "Monterey": 439, "Napa": 138,
    "Nevada": 103, "Orange": 3186, "Placer": 404, "Plumas": 19.8, "Riverside": 2418,
    "Sacramento": 1585, "San Benito": 64, "San Bernardino": 2181, "San Diego": 3298,
    "San Francisco": 874, "San Joaquin": 779, "San Luis Obispo": 283, "San Mateo": 764,
    "Santa Barbara": 448, "Santa Clara": 1936, "Santa Cruz": 271, "Shasta": 182, "Sierra": 3.2,
    "Siskiyou": 44, "Solano": 453, "Sonoma": 488, "Stanislaus": 552, "Sutter": 99, "Tehama": 65,
    "Trinity": 16, "Tulare": 473, "Tuolumne": 55, "Ventura": 843, "Yolo": 217, "Yuba": 81,
}
COUNTY_FLOOR = 15.0


def county_weights() -> np.ndarray:
    """Sampling weights aligned with CALIFORNIA_COUNTIES (sum 1)."""
    w = np.array([max(COUNTY_POPULATION[c], COUNTY_FLOOR) for c in CALIFORNIA_COUNTIES])
    return w / w.sum()


# country -> (weight, name group, languages with weights)
COUNTRIES = {
    "Mexico": (55, "hispanic", {"Spanish": 80, "English": 18, "Mixteco": 2}),
    "El Salvador": (9, "hispanic", {"Spanish": 85, "English": 15}),
    "Guatemala": (8, "hispanic", {"Spanish": 75, "K'iche'": 10, "Mam": 8, "English": 7}),
    "Honduras": (4, "hispanic", {"Spanish": 90, "English": 10}),
    "Nicaragua": (1, "hispanic", {"Spanish": 90, "English": 10}),
    "Peru": (1, "hispanic", {"Spanish": 85, "English": 15}),
    "Colombia": (1, "hispanic", {"Spanish": 85, "English": 15}),
    "Philippines": (5, "filipino", {"Tagalog": 45, "English": 50, "Ilocano": 5}),
    "Vietnam": (5, "vietnamese", {"Vietnamese": 75, "English": 25}),
    "China": (3, "chinese", {"Mandarin": 45, "Cantonese": 40, "English": 15}),
    "South Korea": (2, "korean", {"Korean": 70, "English": 30}),
    "India": (2, "indian", {"Punjabi": 45, "Hindi": 25, "English": 30}),
    "Cambodia": (1.5, "khmer", {"Khmer": 65, "English": 35}),
    "Laos": (1, "khmer", {"Lao": 65, "English": 35}),
    "Armenia": (1, "armenian", {"Armenian": 70, "English": 30}),
    "Jamaica": (0.5, "other", {"English": 100}),
    "Nigeria": (0.4, "other", {"English": 100}),
    "Fiji": (0.5, "other", {"English": 60, "Hindi": 40}),
    "Tonga": (0.3, "other", {"Tongan": 60, "English": 40}),
    "Ukraine": (0.3, "other", {"Ukrainian": 50, "Russian": 30, "English": 20}),
}
FIRST_NAMES = {
    "hispanic": ("José", "María", "Juan", "Guadalupe", "Luis", "Ana", "Jesús", "Sofía", "Andrés",
                 "Mónica", "Héctor", "Inés", "Raúl", "Verónica", "Martín", "Lucía", "Ramón",
                 "Rocío", "Óscar", "Ángel", "Begoña", "Joaquín", "Araceli", "Efraín", "Yesenia"),
    "filipino": ("Jose Maria", "Maricel", "Rodel", "Jocelyn", "Ramil", "Analyn", "Noel",
                 "Rowena", "Jerome", "Marites"),
    "vietnamese": ("Nguyễn Văn", "Thị Hương", "Minh", "Thu", "Quang", "Lan", "Đức", "Phương",
                   "Tuấn", "Hằng"),
    "chinese": ("Wei", "Xiaoling", "Jun", "Mei", "Zhiwei", "Yan", "Kwok-Wai", "Siu Ling"),
    "korean": ("Min-jun", "Seo-yeon", "Ji-hoon", "Hye-jin", "Dong-hyun", "Eun-ji"),
    "indian": ("Gurpreet", "Harjit", "Manpreet", "Rajesh", "Priya", "Sandeep", "Kulwinder"),
    "khmer": ("Sokha", "Vannak", "Chanthou", "Bounmy", "Souksavanh", "Dara"),
    "armenian": ("Armen", "Anahit", "Hovhannes", "Lusine", "Tigran", "Gayane"),
    "other": ("Olena", "Chinedu", "Andre", "Sione", "Keisha", "Taras", "Adaeze", "Ravinesh"),
}
LAST_NAMES = {
    "hispanic": ("Hernández", "García", "Martínez", "López", "González", "Rodríguez", "Pérez",
                 "Sánchez", "Ramírez", "Flores", "Gómez", "Díaz", "Peña", "Núñez", "Ñúñez",
                 "Jiménez", "Gutiérrez", "Domínguez", "Vásquez", "Chávez", "Cortés", "Ibáñez",
                 "Muñoz", "Álvarez", "Beltrán"),
    "filipino": ("Santos", "Reyes", "Cruz", "Bautista", "Dela Cruz", "Villanueva", "Mendoza",
                 "Aquino", "Castillo", "Dimaculangan"),
    "vietnamese": ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi"),
    "chinese": ("Wang", "Li", "Zhang", "Chen", "Liu", "Wong", "Chan", "Lam", "Ng"),
    "korean": ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Yoon"),
    "indian": ("Singh", "Kaur", "Sandhu", "Patel", "Sharma", "Gill", "Dhillon"),
    "khmer": ("Sok", "Chea", "Phommachanh", "Keo", "Vongsa", "Meas"),
    "armenian": ("Petrosyan", "Hakobyan", "Sargsyan", "Grigoryan", "Avetisyan"),
    "other": ("Kovalenko", "Okeke", "Campbell", "Fifita", "Adeyemi", "Prasad", "Shevchenko"),
}
IMMIGRATION_STATUS_WEIGHTS = {"lpr": 45, "undocumented": 24, "daca": 6, "tps": 5,
                              "visa_holder": 3, "asylee_refugee": 5, "other": 4, "unknown": 8}

# (offense code, group, P(felony), removal ground type when flagged, P(flagged), weight)
OFFENSES = (
    ("HS 11350(a)", "drug_possession", 0.5, "controlled_substance", 0.95, 10),
    ("HS 11377(a)", "drug_possession", 0.4, "controlled_substance", 0.95, 9),
    ("HS 11364", "drug_possession", 0.0, "controlled_substance", 0.9, 3),
    ("HS 11351", "drug_sale", 1.0, "aggravated_felony", 0.95, 3),
    ("HS 11352(a)", "drug_sale", 1.0, "aggravated_felony", 0.95, 3),
    ("HS 11378", "drug_sale", 1.0, "aggravated_felony", 0.95, 4),
    ("HS 11359(b)", "cannabis", 0.3, "controlled_substance", 0.8, 2.5),
    ("HS 11357(a)", "cannabis", 0.0, "controlled_substance", 0.5, 1.5),
    ("PC 273.5(a)", "dv", 0.5, "domestic_violence", 0.95, 7),
    ("PC 243(e)(1)", "dv", 0.0, "domestic_violence", 0.85, 5),
    ("PC 166(c)(1)", "dv", 0.0, "domestic_violence", 0.8, 1.5),
    ("PC 459", "theft", 0.6, "crime_involving_moral_turpitude", 0.7, 5),
    ("PC 484(a)", "theft", 0.0, "crime_involving_moral_turpitude", 0.7, 5),
    ("PC 487(a)", "theft", 0.7, "crime_involving_moral_turpitude", 0.8, 3),
    ("PC 496(a)", "theft", 0.5, "crime_involving_moral_turpitude", 0.6, 3),
    ("PC 470(a)", "theft", 0.6, "crime_involving_moral_turpitude", 0.8, 1.5),
    ("PC 530.5(a)", "theft", 0.5, "crime_involving_moral_turpitude", 0.8, 1.5),
    ("VC 10851(a)", "theft", 0.6, "aggravated_felony", 0.5, 2),
    ("PC 245(a)(1)", "violent", 0.9, "aggravated_felony", 0.8, 4),
    ("PC 422", "violent", 0.6, "crime_involving_moral_turpitude", 0.6, 2),
    ("PC 29800(a)(1)", "firearm", 1.0, "firearm", 0.95, 2),
    ("PC 25850(a)", "firearm", 0.4, "firearm", 0.9, 1.5),
    ("VC 23152(a)", "dui", 0.05, "other", 0.1, 5),
    ("PC 647(b)", "prostitution", 0.0, "crime_involving_moral_turpitude", 0.6, 2.5),
    ("PC 148(a)(1)", "other", 0.0, "other", 0.2, 2),
)
COURT_CASE_PREFIXES = ("CR", "F", "M", "NF", "SC", "BA", "VA", "SCD")

# Initial vehicle weights: base weight, offense groups allowed (None = all), level needed.
VEHICLES = {
    "PC 1473.7(a)(1)": (40, None, None),
    "PC 1016.5": (13, None, None),
    "PC 1473.7(a)(2)": (1.2, None, None),
    "PC 1473.7(a)(3)": (1.2, None, None),
    "PC 1018": (1.2, None, None),
    "PC 1473": (3.5, None, None),
    "Nonstatutory motion": (2.5, None, None),
    "PC 1203.43": (8, {"drug_possession"}, None),
    "PC 236.14": (1.5, {"prostitution": 30, "theft": 1, "drug_possession": 1}, None),
    "PC 236.15": (1.0, {"prostitution": 12, "theft": 1, "drug_possession": 1, "violent": 1}, None),
    "PC 1170.18": (14, {"drug_possession", "theft"}, None),
    "PC 17(b)": (7, None, "felony"),
    "PC 18.5(b)": (14, None, "misdemeanor"),
    "PC 1170(d)": (2, None, "felony"),
    "PC 1172.1": (2, None, "felony"),
    "PC 1203.3": (2, None, None),
    "PC 1170.91": (0.8, None, None),
    "HS 11361.8": (40, {"cannabis"}, None),
    "PC 1203.4": (4, None, None),
    "PC 1203.4a": (2, None, "misdemeanor"),
    "PC 1203.41": (1.5, None, "felony"),
    "PC 1203.42": (1.0, None, "felony"),
    "PC 1385": (1.2, None, None),
}
# P(granted or granted in part | granted, in part or denied)
GRANT_RATE = {
    "PC 1473.7(a)(1)": 0.70, "PC 1473.7(a)(2)": 0.35, "PC 1473.7(a)(3)": 0.30,
    "PC 1016.5": 0.50, "PC 1018": 0.45, "PC 1473": 0.30, "Nonstatutory motion": 0.35,
    "PC 1203.43": 0.60, "PC 236.14": 0.65, "PC 236.15": 0.55, "PC 1170.18": 0.85,
    "PC 17(b)": 0.70, "PC 18.5(b)": 0.85, "PC 1170(d)": 0.45, "PC 1172.1": 0.45,
    "PC 1203.3": 0.60, "PC 1170.91": 0.50, "HS 11361.8": 0.90, "PC 1203.4": 0.90,
    "PC 1203.4a": 0.88, "PC 1203.41": 0.80, "PC 1203.42": 0.80, "PC 1385": 0.45,
}
# Grant ground mix by the vehicle's relief kind.
GROUND_WEIGHTS = {
    "vacatur": {"legal_defect": 88, "clerical_error": 1, "rehabilitation": 2,
                "immigration_hardship": 3, "other": 1, "unknown": 5},
    "offense_reduction": {"legal_defect": 40, "clerical_error": 5, "rehabilitation": 35,
                          "immigration_hardship": 8, "other": 4, "unknown": 8},
    "sentence_modification": {"legal_defect": 55, "clerical_error": 10, "rehabilitation": 8,
                              "immigration_hardship": 17, "other": 2, "unknown": 8},
    "rehabilitative": {"legal_defect": 5, "clerical_error": 1, "rehabilitation": 80,
                       "immigration_hardship": 4, "other": 3, "unknown": 7},
}
FIRMS = {
    "Whitcombe & Ames LLP": 25, "Hollis Brandt Okafor LLP": 18,
    "Sato, Merriweather & Vance LLP": 14, "Delgado Finch LLP": 12,
    "Okonkwo Reyes & Lindqvist LLP": 10, "Pemberton Castellanos LLP": 9,
    "Marlowe, Iyer & Stroud LLP": 7, "Abernathy Quist LLP": 5,
}


# --- Small helpers -------------------------------------------------------------------------

def _day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _choice(rng: np.random.Generator, options, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.asarray(options, dtype=object)[rng.choice(len(w), size=n, p=w / w.sum())]


def _lognormal_days(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.round(rng.lognormal(np.log(median), sigma, n)).astype(np.int64)


# pandas 3's "str" dtype, a blank being NaN, named in full: pandas 2.3 (which the test extra's
# lifelines requires) reads "str" as numpy strings, where a blank becomes the text "None".
TEXT = pd.StringDtype(na_value=np.nan)


def _ids(prefix: str, n: int, width: int = 6) -> pd.api.extensions.ExtensionArray:
    """"CL-000001"... as an Arrow string array: millions of ids without Python objects."""
    width = max(width, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pd.array(pc.binary_join_element_wise(prefix, digits, ""), dtype=TEXT)


def _decode(codes: np.ndarray, options) -> pd.api.extensions.ExtensionArray:
    """options[codes] as an Arrow string array; code -1 gives a blank."""
    indices = pa.array(np.maximum(codes, 0), mask=codes < 0)
    return pd.array(pa.DictionaryArray.from_arrays(indices, pa.array(list(options))).cast(pa.string()),
                    dtype=TEXT)


def _dates(days: np.ndarray) -> pd.Series:
    return pd.Series(days.astype(np.int64).view("datetime64[D]")).astype("datetime64[s]")


def _bools(values: np.ndarray, known: np.ndarray) -> pd.Series:
    return pd.Series(pd.array(np.where(known, values, None).tolist(), dtype="boolean"))


def load_taxonomy() -> pd.DataFrame:
    taxonomy = pd.read_csv(VEHICLE_TAXONOMY_CSV, dtype=str, keep_default_na=False)
    missing = set(taxonomy["vehicle"]) ^ set(VEHICLES)
    if missing:
        raise ValueError(f"{VEHICLE_TAXONOMY_CSV}: vehicles without generator weights (or "
                         f"weights for vehicles not in the taxonomy): {sorted(missing)}")
    return taxonomy


# --- Dataset ----------------------------------------------------------------------------------

@dataclass
class Dataset:
    """Canonical records as an export carries them (PII included), and the messy kind
    injected on each row ("" for a clean row), table by table, row-aligned."""
    seed: int
    n_motions_requested: int
    messy_rate: float
    tables: dict[str, pd.DataFrame]
    messy: dict[str, np.ndarray] = field(default_factory=dict)
    # Per row, the day (days since 1970) from which an export carries the record: a client or
    # case from intake, a conviction with its case, a first motion from the case's referral (as
    # "not yet filed" until filed), a re-filing from its filing, an event or time entry from its date.
    appears: dict[str, np.ndarray] = field(default_factory=dict)
    exported_on: dt.date = AS_OF

    def messy_summary(self) -> dict:
        out: dict[str, dict] = {}
        for name in TABLE_ORDER:
            kinds = self.messy[name]
            ids = self.tables[name][TABLES[name].key].to_numpy()
            per_kind = {}
            for kind in sorted(set(kinds) - {""}):
                hit = ids[kinds == kind]
                per_kind[kind] = {"count": int(hit.size), "ids": sorted(str(i).strip() for i in hit)}
            out[name] = per_kind
        return out

    def expected_loaded(self) -> dict[str, int]:
        """Records a correct ingest keeps per table: rejected kinds out, duplicates once."""
        out = {}
        for name in TABLE_ORDER:
            kinds = self.messy[name]
            out[name] = int(np.sum(~np.isin(kinds, REJECTING_KINDS + ("duplicate_row",))))
        return out


def generate(n_motions: int = 2000, seed: int = DEFAULT_SEED, messy: bool = True,
             messy_rate: float = DEFAULT_MESSY_RATE) -> Dataset:
    """Pure: the same arguments give the same records."""
    if n_motions < 1:
        raise ValueError("n_motions must be at least 1")
    if not 0 <= messy_rate < 0.5:
        raise ValueError("messy_rate must be in [0, 0.5)")
    taxonomy = load_taxonomy()
    rng = np.random.default_rng([seed, 0])
    # Frames are built as soon as their inputs are final and large intermediates dropped
    # right after: that keeps 1M motions under 2 GB.
    clients = _clients(rng, max(1, round(n_motions / MOTIONS_PER_CLIENT)))
    tables = {"clients": _clients_frame(clients)}
    cases = _cases(rng, clients)
    convictions = _convictions(rng, cases, clients)
    tables["convictions"] = _convictions_frame(convictions, cases)
    motions = _motions(rng, convictions, cases, taxonomy)
    _close_cases(rng, cases, convictions, motions)
    tables["cases"] = _cases_frame(cases, clients)
    entries = _time_entries(rng, cases, convictions, motions)
    tables["time_entries"] = _entries_frame(entries, cases)
    events = _immigration_events(rng, clients, cases, convictions, motions, taxonomy)
    tables["immigration_events"] = _events_frame(events, clients)
    tables["motions"] = _motions_frame(motions, convictions)
    appears = {
        "clients": clients["intake"], "cases": cases["intake"],
        "convictions": cases["intake"][convictions["case"]],
        "motions": np.where(motions["parent"] >= 0, motions["filing"],
                            cases["referral"][convictions["case"][motions["conviction"]]]),
        "immigration_events": events["date"], "time_entries": entries["date"],
    }
    del motions, convictions, cases, clients, entries, events
    tables = {name: tables[name] for name in TABLE_ORDER}
    for name, frame in tables.items():
        assert list(frame.columns) == [c.name for c in TABLES[name].columns], name
    ds = Dataset(seed, n_motions, messy_rate if messy else 0.0, tables,
                 {name: np.full(len(t), "", dtype=object) for name, t in tables.items()},
                 {name: appears[name] for name in TABLE_ORDER})
    if messy and messy_rate > 0:
        _inject_messiness(ds, np.random.default_rng([seed, 1]))
    return ds


# --- Clients, cases, convictions ---------------------------------------------------------

def _clients(rng, n: int) -> dict:
    start, end = _day(PROGRAM_START), _day(AS_OF) - 14
    # Intake volume grows over the years: density rises linearly to three times its start.
    u = rng.random(n)
    intake = start + np.floor((np.sqrt(1 + 8 * u) - 1) / 2 * (end - start)).astype(np.int64)
    intake.sort()
    age = np.clip(rng.normal(41, 11, n), 19, 78)
    dob = intake - np.round(age * 365.25).astype(np.int64)

    names = list(COUNTRIES)
    country = _choice(rng, names, [COUNTRIES[c][0] for c in names], n)
    group = np.empty(n, dtype=object)
    language = np.empty(n, dtype=object)
    for c in names:
        m = country == c
        group[m] = COUNTRIES[c][1]
        langs = COUNTRIES[c][2]
        language[m] = _choice(rng, list(langs), list(langs.values()), int(m.sum()))
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    for g in FIRST_NAMES:
        m = group == g
        k = int(m.sum())
        first[m] = _choice(rng, FIRST_NAMES[g], np.ones(len(FIRST_NAMES[g])), k)
        surname = _choice(rng, LAST_NAMES[g], np.ones(len(LAST_NAMES[g])), k)
        if g == "hispanic":  # two surnames, often
            second = _choice(rng, LAST_NAMES[g], np.ones(len(LAST_NAMES[g])), k)
            surname = np.where(rng.random(k) < 0.6, surname + " " + second, surname)
        last[m] = surname

    status = _choice(rng, list(IMMIGRATION_STATUS_WEIGHTS),
                     list(IMMIGRATION_STATUS_WEIGHTS.values()), n)
    final_order = rng.random(n) < 0.08
    proceedings = ~final_order & (rng.random(n) < np.where(status == "lpr", 0.22, 0.30))
    detained = rng.random(n) < np.where(proceedings | final_order, 0.28, 0.01)
    return {
        "n": n, "id": _ids("CL-", n), "intake": intake, "dob": dob, "country": country,
        "language": language, "first": first, "last": last, "a_number": _a_numbers(rng, n),
        "county": _choice(rng, CALIFORNIA_COUNTIES, county_weights(), n), "status": status,
        "proceedings": proceedings, "final_order": final_order, "detained": detained,
        "flags_known": rng.random(n) > 0.03,
    }


def _a_numbers(rng, n: int) -> np.ndarray:
    digits = rng.integers(10_000_000, 240_000_000, n)
    style = rng.choice(6, size=n, p=[0.45, 0.2, 0.15, 0.08, 0.04, 0.08])
    nine = _zfill(digits, 9)
    dashed = _join(_zfill(digits // 1_000_000, 3), "-", _zfill(digits // 1000 % 1000, 3), "-",
                   _zfill(digits % 1000, 3))
    styles = (_join("A", nine), dashed, _join("A ", digits.astype(str)), nine, _join("A-", dashed))
    out = np.full(n, None, dtype=object)  # style 5: no A-number on file
    for k, rendered in enumerate(styles):
        out[style == k] = rendered[style == k]
    return out


def _zfill(numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.zfill(numbers.astype(str), width)


def _join(*parts) -> np.ndarray:
    out = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return np.asarray(out, dtype=object)


def _cases(rng, clients: dict) -> dict:
    as_of = _day(AS_OF)
    second = (rng.random(clients["n"]) < 0.08) & (clients["intake"] < as_of - 400)
    client = np.repeat(np.arange(clients["n"]), 1 + second)
    n = client.size
    intake = clients["intake"][client].copy()
    later = np.r_[False, client[1:] == client[:-1]]
    lo = intake[later] + 365
    intake[later] = lo + np.floor(rng.random(later.sum()) * (as_of - 30 - lo)).astype(np.int64)

    screened = intake + np.minimum(_lognormal_days(rng, 10, 0.8, n), 90)
    eligibility = _choice(rng, ["eligible", "ineligible", "pending"], [84, 14, 2], n)
    eligibility[screened > as_of] = "pending"
    eligibility_date = np.where(eligibility == "pending", NAT, screened)

    # Records gathering takes one to two months between screening and referral.
    referral = screened + _lognormal_days(rng, 42, 0.35, n)
    due = (eligibility == "eligible") & (referral <= as_of)
    lost = due & (rng.random(n) < 0.04)  # client lost contact before referral
    referred = due & ~lost
    share = _norm(list(FIRMS.values()))
    firm = rng.choice(len(FIRMS), size=n, p=share)
    # Each firm has a block of attorney ids, sized to its share of the work.
    n_attorneys = max(40, int(referred.sum()) // 6)
    per_firm = np.maximum(4, np.round(share * n_attorneys)).astype(np.int64)
    first_attorney = np.r_[0, np.cumsum(per_firm)[:-1]]
    attorney = first_attorney[firm] + np.floor(rng.random(n) * per_firm[firm]).astype(np.int64)
    return {
        "n": n, "id": _ids("CS-", n), "client": client, "intake": intake,
        "eligibility": eligibility, "eligibility_date": eligibility_date,
        "referral": np.where(referred, referral, NAT), "referred": referred, "lost": lost,
        "firm_index": firm,
        "attorney": attorney, "firm_first_attorney": first_attorney, "firm_size": per_firm,
    }


def _convictions(rng, cases: dict, clients: dict) -> dict:
    n_cases = cases["n"]
    count = np.minimum(1 + rng.poisson(0.45, n_cases), 4)
    elig = cases["eligibility"]
    count[elig == "ineligible"] = (rng.random((elig == "ineligible").sum()) < 0.6).astype(np.int64)
    pending = elig == "pending"
    count[pending] = (rng.random(pending.sum()) < 0.3).astype(np.int64)
    case = np.repeat(np.arange(n_cases), count)
    n = case.size
    client = cases["client"][case]

    offense = rng.choice(len(OFFENSES), size=n, p=_norm([o[5] for o in OFFENSES]))
    felony_p = np.array([o[2] for o in OFFENSES])[offense]
    level = np.where(rng.random(n) < felony_p, "felony", "misdemeanor").astype(object)
    level[(level == "misdemeanor") & (rng.random(n) < 0.02)] = "infraction"
    flagged = rng.random(n) < np.array([o[4] for o in OFFENSES])[offense]
    ground_type = np.where(flagged, np.array([o[3] for o in OFFENSES], dtype=object)[offense], "none")
    ground_known = rng.random(n) > 0.04

    intake = cases["intake"][case]
    adult = clients["dob"][client] + 18 * 365 + 5
    date = intake - _lognormal_days(rng, 7 * 365, 0.6, n)
    lo, hi = np.maximum(adult, _day(dt.date(1988, 1, 1))), intake - 60
    early = date < lo  # too young for a drawn date: any date of adult life before intake
    date[early] = lo[early] + np.floor(rng.random(early.sum()) * (hi - lo)[early]).astype(np.int64)
    date = np.minimum(date, hi)

    home = clients["county"][client]
    county = np.where(rng.random(n) < 0.8, home,
                      _choice(rng, CALIFORNIA_COUNTIES, county_weights(), n)).astype(object)
    year = (date.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970) % 100
    prefix = np.asarray(COURT_CASE_PREFIXES)[rng.integers(0, len(COURT_CASE_PREFIXES), n)]
    number = _zfill(rng.integers(0, 1_000_000, n), 6)
    # Some courts put the year first ("19CR012345"), others a letter prefix only ("BA123456").
    court_case = np.where(np.isin(prefix, ("CR", "F", "M", "NF")),
                          _join(_zfill(year, 2), prefix, number), _join(prefix, number))
    return {
        "n": n, "id": _ids("CV-", n), "case": case, "client": client, "county": county,
        "court_case": court_case, "offense": offense, "level": level, "date": date,
        "flagged": flagged, "ground_type": ground_type, "ground_known": ground_known,
    }


def _norm(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


# --- Motions -----------------------------------------------------------------------------------

def _vehicle_weights(group: str, level: str, vehicles: list[str]) -> np.ndarray:
    w = np.zeros(len(vehicles))
    for i, v in enumerate(vehicles):
        base, groups, need_level = VEHICLES[v]
        if need_level and need_level != level:
            continue
        if groups is None:
            w[i] = base
        elif isinstance(groups, dict):
            w[i] = base * groups.get(group, 0)
        elif group in groups:
            w[i] = base
    return w


def _motions(rng, conv: dict, cases: dict, taxonomy: pd.DataFrame) -> dict:
    as_of = _day(AS_OF)
    vehicles = taxonomy["vehicle"].tolist()
    kind = dict(zip(taxonomy["vehicle"], taxonomy["relief_kind"]))
    referred = cases["referred"][conv["case"]]
    first_of_case = np.r_[True, conv["case"][1:] != conv["case"][:-1]]
    needs = referred & (first_of_case | (rng.random(conv["n"]) < 0.8))
    group_names = sorted({o[1] for o in OFFENSES})
    group_of_offense = np.array([group_names.index(o[1]) for o in OFFENSES])
    groups = np.asarray(group_names, dtype=object)[group_of_offense[conv["offense"]]]
    level_code = pd.Categorical(conv["level"], categories=OFFENSE_LEVELS).codes.astype(np.int64)
    combo = group_of_offense[conv["offense"]] * len(OFFENSE_LEVELS) + level_code
    rehabilitative = np.array([kind[v] == "rehabilitative" for v in vehicles])
    refile_boost = np.where(rehabilitative, 0.0,
                            np.where(np.isin(vehicles, ("PC 1473", "Nonstatutory motion")), 3.0, 1.0))

    def pick(rows: np.ndarray, exclude: np.ndarray | None, refile: bool) -> np.ndarray:
        """Draw a vehicle for each conviction row; a re-filing avoids the denied vehicle and
        expungement-type vehicles and leans to habeas / nonstatutory motions."""
        out = np.empty(rows.size, dtype=np.int64)
        keys = combo[rows] * (len(vehicles) + 1) + (0 if exclude is None else exclude + 1)
        unique, inverse = np.unique(keys, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(unique.size + 1))
        for j, key in enumerate(unique.tolist()):
            members = order[bounds[j]:bounds[j + 1]]
            c, excluded = divmod(key, len(vehicles) + 1)
            g, lvl = divmod(c, len(OFFENSE_LEVELS))
            w = _vehicle_weights(group_names[g], OFFENSE_LEVELS[lvl], vehicles)
            if excluded:
                w[excluded - 1] = 0
            if refile:
                w *= refile_boost
            if w.sum() == 0:
                w = (~rehabilitative).astype(float)
            out[members] = rng.choice(len(vehicles), size=members.size, p=w / w.sum())
        return out

    conv_rows = np.flatnonzero(needs)
    referral = cases["referral"][conv["case"][conv_rows]]
    # Later convictions of a case are often taken up after the first.
    stagger = np.where(first_of_case[conv_rows], 0, _lognormal_days(rng, 60, 0.8, conv_rows.size))
    filing = referral + _lognormal_days(rng, 50, 0.5, conv_rows.size) + stagger
    vehicle = pick(conv_rows, None, refile=False)
    parent = np.full(conv_rows.size, -1)
    generation = np.zeros(conv_rows.size, dtype=np.int64)

    # Some convictions get a second motion filed alongside the first, under another vehicle.
    companion = rng.random(conv_rows.size) < 0.1
    c_rows = conv_rows[companion]
    c_vehicle = pick(c_rows, vehicle[companion], refile=False)
    conv_rows = np.r_[conv_rows, c_rows]
    filing = np.r_[filing, filing[companion] + rng.integers(0, 20, c_rows.size)]
    vehicle = np.r_[vehicle, c_vehicle]
    parent = np.r_[parent, np.full(c_rows.size, -1)]
    generation = np.r_[generation, np.zeros(c_rows.size, dtype=np.int64)]

    outcome, decision, hearing = _decide(rng, vehicle, filing, vehicles)
    # Re-filings after a denial, up to two rounds, under another vehicle.
    new = np.arange(conv_rows.size)
    for gen in (1, 2):
        denied = new[(outcome[new] == "denied") & (rng.random(new.size) < 0.45)]
        refiled = decision[denied] + _lognormal_days(rng, 75, 0.6, denied.size)
        keep = refiled <= as_of
        denied, refiled = denied[keep], refiled[keep]
        r_vehicle = pick(conv_rows[denied], vehicle[denied], refile=True)
        r_out, r_dec, r_hear = _decide(rng, r_vehicle, refiled, vehicles)
        start = conv_rows.size
        conv_rows = np.r_[conv_rows, conv_rows[denied]]
        filing, vehicle = np.r_[filing, refiled], np.r_[vehicle, r_vehicle]
        outcome, decision, hearing = np.r_[outcome, r_out], np.r_[decision, r_dec], np.r_[hearing, r_hear]
        parent = np.r_[parent, denied]
        generation = np.r_[generation, np.full(denied.size, gen)]
        new = np.arange(start, conv_rows.size)

    # Order motions by conviction, then filing; ids follow that order.
    order = np.lexsort((np.where(filing == NAT, np.iinfo(np.int64).max, filing), generation, conv_rows))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    parent = np.where(parent >= 0, rank[np.maximum(parent, 0)], -1)[order]
    m = {"n": order.size, "conviction": conv_rows[order], "vehicle_index": vehicle[order],
         "filing": filing[order], "outcome": outcome[order], "decision": decision[order],
         "hearing": hearing[order], "parent": parent}
    m["vehicle"] = np.asarray(vehicles, dtype=object)[m["vehicle_index"]]
    m["id"] = _ids("MO-", m["n"])
    _order_details(rng, m, conv, np.asarray([kind[v] for v in vehicles], dtype=object), groups)
    return m


def _decide(rng, vehicle: np.ndarray, filing: np.ndarray, vehicles: list[str]):
    """Outcome, decision and hearing dates for motions filed on `filing` (NAT: not yet filed)."""
    as_of = _day(AS_OF)
    n = vehicle.size
    not_filed = filing > as_of
    filing[not_filed] = NAT
    decision = filing + _lognormal_days(rng, 180, 0.7, n)
    decided = ~not_filed & (decision <= as_of)
    grant_p = np.array([GRANT_RATE[v] for v in vehicles])[vehicle]
    r = rng.random(n)
    outcome = np.where(r < grant_p, "granted", "denied").astype(object)
    outcome[(outcome == "granted") & (rng.random(n) < 0.08)] = "granted_in_part"
    outcome[rng.random(n) < 0.03] = "withdrawn"
    outcome[~decided] = "pending"
    decision = np.where(decided, decision, NAT)
    # The order is usually made at the (last) hearing; sometimes taken under submission.
    lag = np.where(rng.random(n) < 0.65, 0, rng.integers(1, 45, n))
    hearing = np.maximum(np.where(decided, decision, filing + _lognormal_days(rng, 150, 0.5, n)) - lag,
                         filing + 14)
    hearing = np.where(~not_filed & (hearing <= as_of) & (outcome != "withdrawn"), hearing, NAT)
    hearing = np.where(decided, np.minimum(hearing, decision), hearing)
    return outcome, decision, hearing


def _order_details(rng, m: dict, conv: dict, kinds: np.ndarray, groups: np.ndarray) -> None:
    n = m["n"]
    granted = np.isin(m["outcome"], ("granted", "granted_in_part"))
    relief_kind = kinds[m["vehicle_index"]]
    result = np.full(n, None, dtype=object)
    result[granted & (relief_kind == "vacatur")] = "vacatur"
    result[granted & (relief_kind == "offense_reduction")] = "offense_reduction"
    result[granted & (relief_kind == "sentence_modification")] = "sentence_modification"
    habeas_sentence = granted & (m["vehicle"] == "PC 1473") & (rng.random(n) < 0.25)
    result[habeas_sentence] = "sentence_modification"
    expunge = granted & np.isin(m["vehicle"], ("PC 1203.4", "PC 1203.4a", "PC 1203.41", "PC 1203.42"))
    result[expunge] = "expungement"
    result[granted & (m["vehicle"] == "PC 1385")] = "dismissal"
    prop64 = granted & (m["vehicle"] == "HS 11361.8")
    result[prop64] = np.where(rng.random(prop64.sum()) < 0.6, "offense_reduction", "dismissal")

    ground = np.full(n, None, dtype=object)
    for rk, weights in GROUND_WEIGHTS.items():
        sel = granted & (relief_kind == rk)
        ground[sel] = _choice(rng, list(weights), list(weights.values()), int(sel.sum()))
    states = _tristate(rng, granted, 0.80, 0.12)
    cites = _tristate(rng, granted, 0.75, 0.15)
    sentence = (relief_kind == "sentence_modification") | habeas_sentence
    relied = _tristate(rng, sentence & (m["filing"] != NAT), 0.12, 0.08)

    dispo = np.full(n, None, dtype=object)
    vac = result == "vacatur"
    k = int(vac.sum())
    drug = np.isin(groups[m["conviction"][vac]], ("drug_possession", "drug_sale", "cannabis"))
    late = m["decision"][vac] >= _day(PC372_5_START)
    d = _choice(rng, ["dismissed", "new_plea_other", "trial", "pending", ""], [45, 28, 3, 14, 10], k)
    d[(d == "new_plea_other") & drug & late & (rng.random(k) < 0.6)] = "new_plea_pc372_5"
    dispo[vac] = np.where(d == "", None, d)
    m.update(result=result, ground=ground, states=states, cites=cites, relied=relied, dispo=dispo)


def _tristate(rng, applies: np.ndarray, p_true: float, p_false: float) -> np.ndarray:
    """Object array of True / False / None (unknown); None where not `applies`."""
    r = rng.random(applies.size)
    out = np.where(r < p_true, True, np.where(r < p_true + p_false, False, None)).astype(object)
    out[~applies] = None
    return out


def _close_cases(rng, cases: dict, conv: dict, m: dict) -> None:
    as_of = _day(AS_OF)
    n = cases["n"]
    case_of_motion = conv["case"][m["conviction"]]
    has_pending = np.zeros(n, bool)
    np.logical_or.at(has_pending, case_of_motion, m["outcome"] == "pending")
    last = np.full(n, NAT)
    np.maximum.at(last, case_of_motion, m["decision"])
    has_motion = np.zeros(n, bool)
    has_motion[case_of_motion] = True
    closed = np.where(has_motion & ~has_pending & (last != NAT),
                      last + _lognormal_days(rng, 45, 0.6, n), NAT)
    inel = cases["eligibility"] == "ineligible"
    closed[inel] = cases["eligibility_date"][inel] + rng.integers(0, 15, inel.sum())
    dropped = cases["lost"]
    closed[dropped] = cases["eligibility_date"][dropped] + _lognormal_days(rng, 150, 0.5, dropped.sum())
    closed[closed > as_of] = NAT
    cases["closed"] = closed
    cases["status"] = np.where(closed != NAT, "closed", "open").astype(object)


# --- Immigration events and time entries ------------------------------------------------

def _immigration_events(rng, clients: dict, cases: dict, conv: dict, m: dict,
                        taxonomy: pd.DataFrame) -> dict:
    as_of = _day(AS_OF)
    n = clients["n"]
    effective_kind = {"vacatur", "offense_reduction", "sentence_modification"}
    kind = dict(zip(taxonomy["vehicle"], taxonomy["relief_kind"]))
    client_of_motion = cases["client"][conv["case"][m["conviction"]]]
    effective = np.array([kind[v] in effective_kind for v in taxonomy["vehicle"]])
    relief = np.isin(m["outcome"], ("granted", "granted_in_part")) & effective[m["vehicle_index"]]
    first_grant = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_grant, client_of_motion[relief], m["decision"][relief])
    had_relief = first_grant != np.iinfo(np.int64).max
    denied_only = np.zeros(n, bool)
    np.logical_or.at(denied_only, client_of_motion, m["outcome"] == "denied")
    denied_only &= ~had_relief

    ev_client, ev_type, ev_date = [], [], []

    def add(mask: np.ndarray, event: str, when: np.ndarray) -> None:
        ok = mask & (when <= as_of)
        ev_client.append(np.flatnonzero(ok))
        ev_type.append(np.full(ok.sum(), event, dtype=object))
        ev_date.append(when[ok])

    base = np.where(had_relief, first_grant, 0)
    court = clients["proceedings"] | clients["final_order"]
    mtr = base + _lognormal_days(rng, 30, 0.5, n)
    add(had_relief & clients["final_order"], "motion_to_reopen_filed", mtr)
    r = rng.random(n)
    result_day = mtr + _lognormal_days(rng, 200, 0.6, n)
    outcomes = (("proceedings_terminated", 0.55), ("relief_granted", 0.15),
                ("administrative_closure", 0.10))
    edge = 0.0
    for event, p in outcomes:
        add(had_relief & court & (r >= edge) & (r < edge + p), event, result_day)
        edge += p
    # The rest: some removal orders despite the relief, some still awaiting a result.
    removed_after = had_relief & court & (r >= 0.80) & (r < 0.88)
    add(removed_after, "removal_ordered", result_day)
    add(removed_after & (rng.random(n) < 0.5), "removed", result_day + _lognormal_days(rng, 60, 0.5, n))
    freed = had_relief & clients["detained"] & (r < 0.80)
    add(freed, "released_from_detention", base + _lognormal_days(rng, 20, 0.6, n))
    outside = had_relief & ~court
    r2 = rng.random(n)
    later = base + _lognormal_days(rng, 240, 0.7, n)
    add(outside & (clients["status"] == "lpr") & (r2 < 0.30), "status_retained", later)
    add(outside & (clients["status"] == "lpr") & (r2 >= 0.30) & (r2 < 0.40), "naturalization_approved",
        later + 200)
    add(outside & (clients["status"] != "lpr") & (r2 < 0.08), "adjustment_approved", later + 100)
    last_decision = np.full(n, NAT)
    np.maximum.at(last_decision, client_of_motion, m["decision"])
    lost = denied_only & court & (rng.random(n) < 0.4)
    add(lost, "removal_ordered", last_decision + _lognormal_days(rng, 150, 0.6, n))

    client = np.concatenate(ev_client)
    date = np.concatenate(ev_date)
    etype = np.concatenate(ev_type)
    order = np.lexsort((date, client))
    return {"n": order.size, "id": _ids("IE-", order.size), "client": client[order],
            "type": etype[order], "date": date[order]}


def _time_entries(rng, cases: dict, conv: dict, m: dict) -> dict:
    as_of = _day(AS_OF)
    referred = np.flatnonzero(cases["referred"])
    case_of_motion = conv["case"][m["conviction"]]
    last = np.full(cases["n"], NAT)
    np.maximum.at(last, case_of_motion, np.where(m["decision"] == NAT, as_of, m["decision"]))
    start = cases["referral"]
    stop = np.maximum(np.minimum(last + 30, as_of), start + 1)  # per case; NAT rows unused
    total = np.zeros(cases["n"])
    total[referred] = np.clip(rng.lognormal(np.log(42), 0.35, referred.size), 20, 80)
    case = np.repeat(referred, np.ceil(total[referred] / 4.5).astype(np.int64))
    n = case.size
    # Split each case's total into its entries, then clip each entry to 0.1-8 hours.
    hours = rng.gamma(2.0, 1.0, n)
    hours *= (total / np.maximum(np.bincount(case, weights=hours, minlength=cases["n"]), 1e-9))[case]
    np.clip(np.round(hours, 1, out=hours), 0.1, 8.0, out=hours)
    # Entries in date order within each case: sort the uniform draws case by case (cases
    # are contiguous and ascending, so sorting draw + case index sorts within each case).
    u = np.sort(rng.random(n) + case) - case
    date = start[case] + np.floor(u * (stop - start)[case]).astype(np.int64)
    del u
    # Most time is the case attorney's; colleagues at the same firm log the rest.
    firm = cases["firm_index"][case]
    colleague = cases["firm_first_attorney"][firm] + np.floor(
        rng.random(n) * cases["firm_size"][firm]).astype(np.int64)
    del firm
    attorney = np.where(rng.random(n) < 0.7, cases["attorney"][case], colleague)
    return {"n": n, "id": _ids("TE-", n, 7), "case": case, "date": date, "hours": hours,
            "attorney": attorney}


# --- Frames ---------------------------------------------------------------------------------------

def _attorney_ids(index: np.ndarray, cases: dict) -> pd.api.extensions.ExtensionArray:
    """Attorney ids for attorney indices (-1: none)."""
    return _ids("ATT-", int(cases["firm_size"].sum()), 4).take(index, allow_fill=True)


def _clients_frame(c: dict) -> pd.DataFrame:
    """Takes the PII arrays out of `c`: nothing else needs them."""
    known = c["flags_known"]
    first, last = c.pop("first"), c.pop("last")
    return pd.DataFrame({
        "client_id": c["id"], "first_name": first, "last_name": last,
        "full_name": first + " " + last, "a_number": c.pop("a_number"),
        "date_of_birth": _dates(c["dob"]), "intake_date": _dates(c["intake"]),
        "country_of_birth": c["country"], "primary_language": c["language"],
        "county_of_residence": c["county"], "immigration_status": c["status"],
        "in_removal_proceedings": _bools(c["proceedings"], known),
        "final_removal_order": _bools(c["final_order"], known),
        "detained_at_intake": _bools(c["detained"], known),
    })


def _cases_frame(c: dict, clients: dict) -> pd.DataFrame:
    ref = c["referred"]
    return pd.DataFrame({
        "case_id": c["id"], "client_id": clients["id"].take(c["client"]), "intake_date": _dates(c["intake"]),
        "eligibility": c["eligibility"], "eligibility_date": _dates(c["eligibility_date"]),
        "referral_date": _dates(c["referral"]), "partner_firm": _decode(np.where(ref, c["firm_index"], -1), FIRMS),
        "attorney_id": _attorney_ids(np.where(ref, c["attorney"], -1), c),
        "case_status": c["status"], "closed_date": _dates(c["closed"]),
    })


def _convictions_frame(c: dict, cases: dict) -> pd.DataFrame:
    """Takes the court case numbers out of `c`: nothing else needs them."""
    return pd.DataFrame({
        "conviction_id": c["id"], "case_id": cases["id"].take(c["case"]), "county": c["county"],
        "court_case_number": c.pop("court_case"),
        "offense_code": np.array([o[0] for o in OFFENSES], dtype=object)[c["offense"]],
        "offense_level": c["level"], "conviction_date": _dates(c["date"]),
        "removal_ground": _bools(c["flagged"], c["ground_known"]),
        "removal_ground_type": np.where(c["ground_known"], c["ground_type"], None),
    })


def _motions_frame(m: dict, conv: dict) -> pd.DataFrame:
    return pd.DataFrame({
        "motion_id": m["id"], "conviction_id": conv["id"].take(m["conviction"]), "vehicle": m["vehicle"],
        "filing_date": _dates(m["filing"]), "hearing_date": _dates(m["hearing"]),
        "decision_date": _dates(m["decision"]), "outcome": m["outcome"], "result_type": m["result"],
        "grant_ground": m["ground"],
        "order_states_ground": pd.array(m["states"].tolist(), dtype="boolean"),
        "order_cites_subsection": pd.array(m["cites"].tolist(), dtype="boolean"),
        "relied_on_relief": pd.array(m["relied"].tolist(), dtype="boolean"),
        "refiled_from_motion_id": m["id"].take(m["parent"], allow_fill=True),
        "disposition_after_vacatur": m["dispo"],
    })


def _events_frame(e: dict, clients: dict) -> pd.DataFrame:
    return pd.DataFrame({"event_id": e["id"], "client_id": clients["id"].take(e["client"]),
                         "event_type": e["type"], "event_date": _dates(e["date"])})


def _entries_frame(t: dict, cases: dict) -> pd.DataFrame:
    return pd.DataFrame({
        "entry_id": t["id"], "case_id": cases["id"].take(t["case"]),
        "partner_firm": pd.Categorical.from_codes(cases["firm_index"][t["case"]], list(FIRMS)),
        "attorney_id": _attorney_ids(t["attorney"], cases),
        "entry_date": _dates(t["date"]), "hours": t["hours"],
    })


# --- Messiness -------------------------------------------------------------------------------

def _inject_messiness(ds: Dataset, rng: np.random.Generator) -> None:
    """Mark a share `messy_rate` of each table's rows with one messy kind and apply it.
    Decided here, on the canonical records, so every layout shows the same problems."""
    for name in TABLE_ORDER:
        frame = ds.tables[name]
        kinds = MESSY_KINDS[name]
        per_kind = int(round(ds.messy_rate * len(frame) / len(kinds)))
        marks = np.full(len(frame), "", dtype=object)
        for kind in kinds:
            pool = np.flatnonzero((marks == "") & _messy_candidates(frame, name, kind))
            chosen = np.sort(rng.choice(pool, size=min(per_kind, pool.size), replace=False))
            marks[chosen] = kind
            _apply_messy(rng, frame, name, kind, chosen)
        # The copies go at the end, as when an export is pasted twice; the original stays clean.
        dup = np.flatnonzero(marks == "duplicate_row")
        marks[dup] = ""
        if dup.size:
            frame = pd.concat([frame, frame.iloc[dup]], ignore_index=True)
        ds.tables[name] = frame
        ds.messy[name] = np.r_[marks, np.full(dup.size, "duplicate_row", dtype=object)]
        ds.appears[name] = np.r_[ds.appears[name], ds.appears[name][dup]]


def _messy_candidates(frame: pd.DataFrame, table: str, kind: str) -> np.ndarray:
    n = len(frame)
    if kind == "stray_whitespace":
        return frame[list(WHITESPACE_COLUMNS[table])].notna().any(axis=1).to_numpy()
    if table != "motions" or kind == "duplicate_row":
        return np.ones(n, bool)
    # A rejected motion must not be the one a re-filing points to.
    referenced = pc.is_in(pa.array(frame["motion_id"].array),
                          value_set=pa.array(frame["refiled_from_motion_id"].dropna().array))
    ok = ~referenced.to_numpy(zero_copy_only=False)
    decided = frame["decision_date"].notna().to_numpy()
    if kind == "decided_without_date":
        return ok & decided
    if kind == "decision_before_filing":
        return ok & decided & frame["filing_date"].notna().to_numpy()
    return ok


def _apply_messy(rng, frame: pd.DataFrame, table: str, kind: str, rows: np.ndarray) -> None:
    if rows.size == 0 or kind == "duplicate_row":
        return
    if kind == "stray_whitespace":
        columns = list(WHITESPACE_COLUMNS[table])
        pads = (" {}", "{} ", "  {}  ", "{}  ")
        present = frame.loc[rows, columns].notna().to_numpy()
        target = rng.integers(0, 8, rows.size) % present.sum(axis=1)
        which = np.argmax(present.cumsum(axis=1) > target[:, None], axis=1)  # a present column
        pad = rng.integers(0, len(pads), rows.size)
        for j, col in enumerate(columns):
            hit = rows[which == j]
            old = frame[col].iloc[hit].to_numpy(dtype=object)
            frame.loc[hit, col] = [pads[p].format(v) for p, v in zip(pad[which == j], old)]
    elif kind == "missing_required_date":
        frame.loc[rows, "event_date" if table == "immigration_events" else "entry_date"] = pd.NaT
    elif kind == "decided_without_date":
        frame.loc[rows, "decision_date"] = pd.NaT
    elif kind == "decision_before_filing":
        back = pd.to_timedelta(rng.integers(5, 60, rows.size), unit="D")
        frame.loc[rows, "decision_date"] = frame.loc[rows, "filing_date"].to_numpy() - back.to_numpy()
    elif kind == "unknown_vehicle":
        frame.loc[rows, "vehicle"] = _choice(rng, BAD_VEHICLES, np.ones(len(BAD_VEHICLES)), rows.size)
    elif kind == "unmapped_outcome":
        frame.loc[rows, "outcome"] = _choice(rng, BAD_OUTCOMES, np.ones(len(BAD_OUTCOMES)), rows.size)
    else:
        raise ValueError(kind)


# --- Exports of earlier days -------------------------------------------------------------------

def snapshot(ds: Dataset, exported_on: dt.date) -> Dataset:
    """The records as the program's export made on ``exported_on`` carries them: only what had
    happened by then (clients and cases taken in, motions filed, events, hours), with what was
    still ahead left blank (a decision to come is a pending motion, a referral to come an
    unreferred case). A row with a kind of mess ingest rejects is carried as it is, from the
    export where all its dates have passed, so the same records are rejected in every export."""
    day = _day(exported_on)
    if day >= _day(AS_OF):
        return ds
    tables, messy, appears = {}, {}, {}
    for name in TABLE_ORDER:
        frame, marks = ds.tables[name], ds.messy[name]
        rejected = np.isin(marks, REJECTING_KINDS)
        keep = ds.appears[name] <= day
        if name == "motions":
            dates = frame[["filing_date", "decision_date"]].to_numpy(dtype="datetime64[D]").astype(np.int64)
            keep &= ~rejected | ((dates == NAT) | (dates <= day)).all(axis=1)
        frame = frame[keep].reset_index(drop=True)
        marks, rejected = marks[keep].copy(), rejected[keep]
        _undo_after(frame, name, day, ~rejected)
        padded = marks == "stray_whitespace"
        if padded.any():  # the padded value may have been one left blank
            columns = frame.loc[padded, list(WHITESPACE_COLUMNS[name])]
            still = (columns.apply(lambda c: c.notna() & (c != c.str.strip()))).any(axis=1).to_numpy()
            marks[np.flatnonzero(padded)[~still]] = ""
        tables[name], messy[name], appears[name] = frame, marks, ds.appears[name][keep]
    return Dataset(ds.seed, ds.n_motions_requested, ds.messy_rate, tables, messy, appears, exported_on)


def _undo_after(frame: pd.DataFrame, table: str, day: int, rows: np.ndarray) -> None:
    """Blank, on ``rows`` of ``frame``, what happened after ``day``."""
    def after(column: str) -> np.ndarray:
        days = frame[column].to_numpy(dtype="datetime64[D]").astype(np.int64)
        return rows & (days != NAT) & (days > day)

    if table == "cases":
        undecided, unreferred, open_ = after("eligibility_date"), after("referral_date"), after("closed_date")
        frame.loc[undecided, ["eligibility", "eligibility_date"]] = ["pending", pd.NaT]
        frame.loc[unreferred, ["referral_date", "partner_firm", "attorney_id"]] = [pd.NaT, None, None]
        frame.loc[open_, ["case_status", "closed_date"]] = ["open", pd.NaT]
    elif table == "motions":
        unfiled, unheard, undecided = after("filing_date"), after("hearing_date"), after("decision_date")
        order = ["result_type", "grant_ground", "order_states_ground", "order_cites_subsection",
                 "relied_on_relief", "disposition_after_vacatur"]
        frame.loc[undecided | unfiled, order] = None
        frame.loc[undecided | unfiled, ["outcome", "decision_date"]] = ["pending", pd.NaT]
        frame.loc[unheard | unfiled, "hearing_date"] = pd.NaT
        frame.loc[unfiled, "filing_date"] = pd.NaT


# --- What a layout can carry --------------------------------------------------------------------

def expressible(ds: Dataset, layout: Layout) -> Dataset:
    """The records of ``ds`` that an export in ``layout`` can carry (``ds`` itself when it carries
    them all). A rendering of the layout writes these; written in the canonical layout too, they
    are the same world, which is how a layout's published numbers are compared with the canonical
    layout's (tests/test_layout_equivalence.py). Not carried:

    - the records of a table no file of the layout produces;
    - where a column is a constant (`value:`), the records holding another value: a referrals
      export with `eligibility: {value: eligible}` holds the eligible cases only;
    - on a wide file, a record whose next table on the row has no `when_present`, when it has no
      record there (a client is on the rows of its cases: a client without a case has no row);
    - a record whose parent is not carried;
    - where the key is made from columns (`key_from`), every record but the first of those that
      agree on them: the export shows them as one entry written twice.
    """
    produced = {t for tables in layout.files.values() for t in tables}
    keep = {t: np.full(len(ds.tables[t]), t in produced) for t in TABLE_ORDER}
    for tables in layout.files.values():
        for table, entries in tables.items():
            for column, entry in entries.items():
                if entry.form == "value":
                    held = ds.tables[table][column].eq(layout.canonical(column, entry.value))
                    keep[table] &= held.fillna(False).to_numpy(dtype=bool)
    while True:
        before = {t: k.copy() for t, k in keep.items()}
        for table in TABLE_ORDER:
            if TABLES[table].parent:
                column, parent = TABLES[table].parent
                carried = ds.tables[parent][TABLES[parent].key][keep[parent]]
                keep[table] &= ds.tables[table][column].isin(carried).to_numpy(dtype=bool)
        for file_key, tables in layout.files.items():
            order = sorted(tables, key=TABLE_ORDER.index)
            for parent, child in zip(order, order[1:]):
                if layout.when_present[file_key][child] is None:
                    with_child = ds.tables[child][TABLES[child].parent[0]][keep[child]]
                    keep[parent] &= ds.tables[parent][TABLES[parent].key].isin(with_child).to_numpy(dtype=bool)
            columns = {c.source: (c.table, c.canonical) for c in _file_columns(layout, file_key)}
            for table, entries in tables.items():
                for entry in entries.values():
                    if entry.form == "key_from":
                        _keep_first_of_equal_keys(ds.tables[table], keep[table], [columns[h] for h in entry.headers], table)
        if all((keep[t] == before[t]).all() for t in TABLE_ORDER):
            break
    if all(k.all() for k in keep.values()):
        return ds
    return Dataset(ds.seed, ds.n_motions_requested, ds.messy_rate,
                   {t: ds.tables[t][keep[t]].reset_index(drop=True) for t in TABLE_ORDER},
                   {t: ds.messy[t][keep[t]] for t in TABLE_ORDER},
                   {t: ds.appears[t][keep[t]] for t in TABLE_ORDER}, ds.exported_on)


def _keep_first_of_equal_keys(frame: pd.DataFrame, keep: np.ndarray, columns: list[tuple[str, str]],
                              table: str) -> None:
    """Clear ``keep`` on the records that agree with an earlier kept one on ``columns`` (values
    trimmed, as ingest reads them) under another key; an exact copy of a row keeps its key and stays."""
    if any(t != table for t, _ in columns):
        raise ValueError(f"a {table} key made from another table's columns cannot be written")
    rows = np.flatnonzero(keep)
    kept = frame.iloc[rows]
    parts = {c: (kept[c].str.strip() if kept[c].dtype == object or pd.api.types.is_string_dtype(kept[c]) else kept[c])
             for _, c in columns}
    key = kept[TABLES[table].key]
    first = key.groupby([parts[c] for _, c in columns], dropna=False, sort=False).transform("first")
    keep[rows[(key != first).to_numpy(dtype=bool)]] = False


# --- Layouts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """How a layout's YAML gives one contract column (docs/data-contract.md, "A column map
    entry"), with its words as the YAML spells them: what the export must hold for ingest to
    read the record's value back. Made from ingest's reading of the layout file (ingest/layouts.py)."""
    form: str  # column | first_of | value | key_from | cases | not_available
    headers: tuple[str, ...] = ()
    value: str | None = None  # of `value:`
    clean: tuple[tuple[str, object], ...] = ()  # (step, argument), in the order ingest applies them
    blank: str | None = None
    rules: tuple[tuple[tuple[tuple[str, object], ...], str], ...] = ()  # ((header, bool or words), ...), then
    otherwise: str | None = None  # `else:` of `cases:`


def _entry(spec: layouts.ColumnSpec, where: str) -> Entry:
    """The entry as its layout file writes it, from ingest's reading of the file."""
    clean = tuple((step.step, step.written) for step in spec.clean)
    for step, _ in clean:
        if step not in ("strip_prefix", "strip_suffix", "case"):
            # A regular expression's replacement cannot be run backwards to a value it reads.
            raise ValueError(f"{where}: pcr samples cannot write a column cleaned with {step!r}")
    if spec.source in ("column", "first_of", "key_from"):
        return Entry(spec.source, spec.headers, clean=clean, blank=spec.blank)
    if spec.source == "value":
        return Entry(spec.source, value=spec.value)
    if spec.source == "not_available":
        return Entry(spec.source)
    rules = tuple((rule.written, rule.then) for rule in spec.rules)
    return Entry(spec.source, spec.headers, rules=rules, blank=spec.blank, otherwise=spec.otherwise)


@dataclass
class Layout:
    name: str
    date_formats: list[str]
    booleans: dict[bool, list[str]]
    spellings: dict[str, dict[str, list[str]]]  # column -> canonical value -> source spellings
    files: dict[str, dict[str, dict[str, Entry]]]  # file -> table -> canonical column -> entry
    when_present: dict[str, dict[str, str | None]]  # file -> table -> marker column (None: always a record)

    def canonical(self, column: str, word: str) -> str:
        """The canonical value a source word maps to under `values:` (the word itself if unmapped)."""
        for canonical, words in self.spellings.get(column, {}).items():
            if word.lower() in (w.lower() for w in words):
                return canonical
        return word


def load_layout(name: str) -> Layout:
    """The bundled layout ``name`` as read (and checked) by ingest's layout reader."""
    path = BUNDLED_LAYOUTS_DIR / f"{name}.yml"
    read = layouts.load_layout(path)
    if read.booleans_written:
        booleans = {flag: list(words) for flag, words in read.booleans_written.items()}
    elif name in UNLISTED_BOOLEANS:
        yes, no = UNLISTED_BOOLEANS[name]
        booleans = {True: list(yes), False: list(no)}
    else:
        raise ValueError(f"{path}: no `booleans:` list and no boolean spellings known for this layout")
    spellings: dict[str, dict[str, list[str]]] = {}
    for column, pairs in read.spellings.items():
        inverse: dict[str, list[str]] = {}
        for source, canonical in pairs:
            inverse.setdefault(canonical, []).append(source)
        spellings[column] = inverse
    files: dict[str, dict[str, dict[str, Entry]]] = {}
    when_present: dict[str, dict[str, str | None]] = {}
    for kind in read.kinds:
        files[kind.kind], when_present[kind.kind] = {}, {}
        for table_map in kind.tables:
            where = f"{path}: files.{kind.kind}.tables.{table_map.table}"
            specs = table_map.columns if table_map.columns is not None else {
                c.name: layouts.ColumnSpec("column", (c.name,)) for c in TABLES[table_map.table].columns}
            files[kind.kind][table_map.table] = {k: _entry(v, f"{where}.{k}") for k, v in specs.items()}
            when_present[kind.kind][table_map.table] = table_map.when_present
    layout = Layout(name, list(read.date_formats), booleans, spellings, files, when_present)
    for file_key in files:  # a key made from columns needs each of them written as a column of its own
        written = {c.source for c in _file_columns(layout, file_key)}
        for table, entries in files[file_key].items():
            for column, entry in entries.items():
                unwritten = [h for h in entry.headers if entry.form == "key_from" and h not in written]
                if unwritten:
                    raise ValueError(f"{path}: files.{file_key}.tables.{table}.{column}: key_from names {unwritten}, "
                                     "which no other entry of the file reads: pcr samples cannot fill them")
    return layout


def _key_hash(keys: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(keys, hash_key="pcr-synth-spell!")


def _uniform(key_hash: np.ndarray, salt: str) -> np.ndarray:
    """Uniform [0, 1) per record key and salt, stable across runs: spellings are drawn per
    record, not per row."""
    x = key_hash ^ np.uint64(zlib.crc32(salt.encode()) * 0x9E3779B97F4A7C15 % 2**64)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**53


def _weighted_pick(options: list, u: np.ndarray, lead: float = 0.6) -> np.ndarray:
    """The first option with weight `lead`, the others sharing the rest."""
    if len(options) == 1:
        return np.zeros(u.size, dtype=np.int64)
    w = np.r_[lead, np.full(len(options) - 1, (1 - lead) / (len(options) - 1))]
    return np.minimum(np.searchsorted(np.cumsum(w), u, side="right"), len(options) - 1)


def _excel_number_format(fmt: str) -> str:
    return (fmt.replace("%Y", "yyyy").replace("%y", "yy").replace("%m", "mm").replace("%d", "dd")
            .replace("%H", "hh").replace("%M", "mm").replace("%S", "ss"))


@dataclass
class _Column:
    source: str  # the export's header
    table: str
    canonical: str
    entry: Entry


def _file_columns(layout: Layout, file_key: str) -> list[_Column]:
    """The file's columns in the order its mapping names them, each written from the first entry
    that reads it (on a wide row, the client id is the client's). A constant, a key made from
    columns or a column not available has no column of its own."""
    seen: dict[str, _Column] = {}
    for table, mapping in layout.files[file_key].items():
        for canonical, entry in mapping.items():
            if entry.form in ("column", "first_of", "cases"):
                for header in entry.headers:
                    seen.setdefault(header, _Column(header, table, canonical, entry))
    return list(seen.values())


def _file_positions(ds: Dataset, tables: list[str]) -> dict[str, np.ndarray]:
    """Row positions per table for each output row (-1: blank part). A parent with no child
    in the file still gets a row, with the child's columns blank (the wide tracker)."""
    tables = sorted(tables, key=TABLE_ORDER.index)
    first = tables[0]
    pos = {first: np.arange(len(ds.tables[first]))}
    for prev, child in zip(tables, tables[1:]):
        parent_col, parent_table = TABLES[child].parent
        if parent_table != prev:
            raise ValueError(f"cannot render {child} beside {prev} on one row")
        keys = ds.tables[prev][TABLES[prev].key].to_numpy(dtype=object)
        left = pd.DataFrame({"k": np.where(pos[prev] >= 0, keys[np.maximum(pos[prev], 0)], None),
                             "row": np.arange(pos[prev].size)})
        right = pd.DataFrame({"k": ds.tables[child][parent_col].to_numpy(dtype=object),
                              "c": np.arange(len(ds.tables[child]))})
        merged = left.merge(right, on="k", how="left", sort=False)
        rows = merged["row"].to_numpy()
        c = merged["c"].fillna(-1).to_numpy(dtype=np.int64)
        order = np.lexsort((c, rows))
        pos = {t: p[rows[order]] for t, p in pos.items()}
        pos[child] = c[order]
    return pos


def _render_column(ds: Dataset, layout: Layout, col: _Column, pos: np.ndarray,
                   key_hash: np.ndarray, fmt: str) -> np.ndarray:
    """One output column as CSV strings ("" blank) or XLSX cell values (None blank)."""
    blank = "" if fmt == "csv" else None
    kind = TABLES[col.table].column(col.canonical).kind
    series = ds.tables[col.table][col.canonical].iloc[np.maximum(pos, 0)]
    notna = (pos >= 0) & series.notna().to_numpy()
    out = np.full(pos.size, blank, dtype=object)
    u = _uniform(key_hash, f"{layout.name}:{col.source}")

    if kind in ("date", "pii_dob"):
        days = series.to_numpy(dtype="datetime64[D]").astype(np.int64)
        return _render_dates(layout, days, notna, u, fmt, out)
    if kind == "bool":
        flags = series.to_numpy(dtype=bool, na_value=False)
        for flag in (True, False):
            m = notna & (flags == flag)
            options = layout.booleans[flag]
            out[m] = np.asarray(options, dtype=object)[_weighted_pick(options, u[m])]
        return out
    values = series.to_numpy(dtype=object)
    if kind == "number":
        nums = values[notna].astype(float)
        out[notna] = np.char.mod("%.1f", nums).astype(object) if fmt == "csv" else nums.tolist()
        return out
    out[notna] = values[notna]
    by_value = layout.spellings.get(col.canonical)
    if by_value is None:
        return out
    for value in pd.unique(values[notna]):
        options = by_value.get(value, [])
        if col.canonical == "vehicle":  # taxonomy names are themselves valid spellings
            options = [value] + options
        if not options:
            continue
        m = notna & (values == value)
        if col.canonical == "outcome" and value == "pending":
            _spell_pending(ds, pos, m, options, u, out)
            continue
        out[m] = np.asarray(options, dtype=object)[_weighted_pick(options, u[m])]
    return out


def _render_entry(ds: Dataset, layout: Layout, col: _Column, pos: np.ndarray, key_hash: np.ndarray,
                  fmt: str) -> dict[str, np.ndarray]:
    """The export's columns that give one contract column, by header: what the layout's entry
    reads back as each record's value."""
    entry, blank = col.entry, ("" if fmt == "csv" else None)
    if entry.form == "cases":
        out = _render_cases(ds, layout, col, pos, key_hash, fmt)
    else:
        values = _render_column(ds, layout, col, pos, key_hash, fmt)
        text = np.array([isinstance(v, str) and v != "" for v in values], dtype=bool)
        for step, argument in reversed(entry.clean):  # what the clean-up steps take back off
            if step == "strip_suffix":
                values[text] = values[text] + argument
            elif step == "strip_prefix":
                values[text] = argument + values[text]
            # `case:` needs nothing: values are matched ignoring case
        if col.canonical in CAPITALISED.get(layout.name, ()):
            values[text] = np.char.upper(values[text].astype(str)).astype(object)
        if entry.form == "column":
            out = {col.source: values}
        else:  # first_of: each record's value in one of the columns, those read before it blank
            which = _weighted_pick(list(entry.headers), _uniform(key_hash, f"{layout.name}:{col.canonical}:first_of"),
                                   lead=0.7)
            out = {h: np.where(which == i, values, blank) for i, h in enumerate(entry.headers)}
    if fmt == "xlsx":  # a value spelled as the empty word (`"": pending`) is an empty cell
        for values in out.values():
            values[values == ""] = None
    return out


def _render_cases(ds: Dataset, layout: Layout, col: _Column, pos: np.ndarray, key_hash: np.ndarray,
                  fmt: str) -> dict[str, np.ndarray]:
    """The columns of a `cases:` entry, record by record: those of the first case whose `then` is
    the record's value (yes/no columns it does not name answered no), all blank for a blank value."""
    entry, blank = col.entry, ("" if fmt == "csv" else None)
    values = ds.tables[col.table][col.canonical].iloc[np.maximum(pos, 0)].to_numpy(dtype=object)
    values[(pos < 0) | pd.isna(values)] = None
    out = {h: np.full(pos.size, blank, dtype=object) for h in entry.headers}
    for value in pd.unique(values):
        rows = pd.isna(values) if value is None else values == value
        for header, answer in _cases_answers(layout, col, value).items():
            if isinstance(answer, bool):
                words = layout.booleans[answer]
                pick = _weighted_pick(words, _uniform(key_hash[rows], f"{layout.name}:{header}"))
                out[header][rows] = np.asarray(words, dtype=object)[pick]
            else:
                out[header][rows] = answer
    return out


def _cases_answers(layout: Layout, col: _Column, value: str | None) -> dict[str, bool | str]:
    """Header -> yes/no or word, so that the `cases:` entry of ``col`` reads ``value`` back;
    checked against the entry's own order (an earlier case must not hold)."""
    entry = col.entry
    where = f"{layout.name}: {col.table}.{col.canonical} {value!r}"
    thens = [layout.canonical(col.canonical, then) for _, then in entry.rules]
    target = thens.index(value) if value in thens else None
    answers: dict[str, bool | str] = {}
    if value is not None:
        answers = {h: False for when, _ in entry.rules for h, accepted in when if isinstance(accepted, bool)}
        if target is not None:
            answers.update({h: accepted if isinstance(accepted, bool) else accepted[0]
                            for h, accepted in entry.rules[target][0]})
        elif entry.otherwise is None or layout.canonical(col.canonical, entry.otherwise) != value:
            raise ValueError(f"{where}: no case gives it and it is not the `else:` value: the layout cannot carry it")
    elif entry.otherwise is not None:
        raise ValueError(f"{where}: a blank value cannot be written when the entry has an `else:` value")

    def holds(header: str, accepted) -> bool:
        answer = answers.get(header)
        if isinstance(accepted, bool):
            return answer is accepted
        return isinstance(answer, str) and answer.lower() in (w.lower() for w in accepted)

    first = next((i for i, (when, _) in enumerate(entry.rules) if all(holds(h, a) for h, a in when)), None)
    if first != target:
        raise ValueError(f"{where}: case {first} holds before case {target} gives it: the layout cannot carry it")
    return answers


def _spell_pending(ds: Dataset, pos: np.ndarray, rows: np.ndarray, options: list[str],
                   u: np.ndarray, out: np.ndarray) -> None:
    """"Not yet filed" only for motions with no filing date, never for filed ones."""
    unfiled_words = [o for o in options if "not yet filed" in o.lower()]
    filed_words = [o for o in options if o not in unfiled_words]
    filing = ds.tables["motions"]["filing_date"].iloc[np.maximum(pos, 0)].to_numpy()
    for words, m in ((unfiled_words or filed_words, rows & pd.isna(filing)),
                     (filed_words, rows & pd.notna(filing))):
        out[m] = np.asarray(words, dtype=object)[_weighted_pick(words, u[m], lead=0.7)]


def _render_dates(layout: Layout, days: np.ndarray, notna: np.ndarray, u, fmt: str,
                  out: np.ndarray) -> np.ndarray:
    if not notna.any():
        return out
    unique, inverse = np.unique(days[notna], return_inverse=True)
    as_dates = unique.astype("datetime64[D]").astype(object)
    if fmt == "xlsx":
        out[notna] = np.asarray(as_dates, dtype=object)[inverse]
        return out
    formats = layout.date_formats
    choice = _weighted_pick(formats, u[notna], lead=0.8)
    years = np.array([d.year for d in as_dates])[inverse]
    # A two-digit year reads back right only within Python's %y window (2000-2068 here).
    two_digit = np.array(["%y" in f for f in formats])[choice]
    choice[two_digit & ((years < 2000) | (years > 2068))] = 0
    rendered = np.empty(choice.size, dtype=object)
    for i, f in enumerate(formats):
        m = choice == i
        if m.any():
            table = np.array([d.strftime(f) for d in as_dates], dtype=object)
            rendered[m] = table[inverse[m]]
    out[notna] = rendered
    return out


def render_file(ds: Dataset, layout: Layout, file_key: str, fmt: str,
                chunk_rows: int = 200_000):
    """Yield (header, chunk columns as lists of cell values, chunk messy kinds per row)."""
    columns = _file_columns(layout, file_key)
    tables = list(layout.files[file_key])
    pos = _file_positions(ds, tables)
    n = next(iter(pos.values())).size
    for start in range(0, max(n, 1), chunk_rows):
        stop = min(start + chunk_rows, n)
        chunk_pos = {t: p[start:stop] for t, p in pos.items()}
        hashes = {t: _key_hash(ds.tables[t][TABLES[t].key].iloc[np.maximum(p, 0)].to_numpy(dtype=object))
                  for t, p in chunk_pos.items()}
        rendered: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        for c in columns:
            if (c.table, c.canonical) not in rendered:
                rendered[(c.table, c.canonical)] = _render_entry(ds, layout, c, chunk_pos[c.table], hashes[c.table], fmt)
        cells = [rendered[(c.table, c.canonical)][c.source] for c in columns]
        kinds = [np.where(p >= 0, ds.messy[t][np.maximum(p, 0)], "") for t, p in chunk_pos.items()]
        yield [c.source for c in columns], cells, kinds


# --- Writers ------------------------------------------------------------------------------

def _count_kinds(counts: dict[str, int], kinds: list[np.ndarray]) -> None:
    for kind in REJECTING_KINDS + HARMLESS_KINDS:
        hit = np.zeros(kinds[0].size, bool)
        for k in kinds:
            hit |= k == kind
        if hit.any():
            counts[kind] = counts.get(kind, 0) + int(hit.sum())


def write_csv(ds: Dataset, layout: Layout, file_key: str, path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, counts = 0, {}
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([row] for row in _title_rows(ds, layout, file_key))
        for i, (header, cells, kinds) in enumerate(render_file(ds, layout, file_key, "csv")):
            pd.DataFrame(dict(zip(range(len(header)), cells))).to_csv(
                fh, header=header if i == 0 else False, index=False, lineterminator="\n")
            rows += cells[0].size
            _count_kinds(counts, kinds)
    return {"rows": rows, "messy_rows": counts}


def write_xlsx(ds: Dataset, layout: Layout, path: Path) -> dict[str, dict]:
    """One workbook, one sheet per file of the layout. Bytes are reproducible: fixed
    document timestamps and zip entry dates."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    fixed = dt.datetime(2026, 1, 1)
    wb.properties.creator = "pcr samples"
    wb.properties.created = fixed
    reports = {}
    date_format = _excel_number_format(layout.date_formats[0])
    for file_key in layout.files:
        ws = wb.create_sheet(file_key)
        rows, counts = 0, {}
        for i, (header, cells, kinds) in enumerate(render_file(ds, layout, file_key, "xlsx")):
            if i == 0:
                for row in _title_rows(ds, layout, file_key):
                    ws.append([row])
                ws.append(header)
            rows += cells[0].size
            if rows + 1 > EXCEL_MAX_ROWS:
                raise ValueError(f"{path} sheet {file_key!r}: {rows + 1} rows exceed Excel's "
                                 f"limit of {EXCEL_MAX_ROWS}; write CSV for a dataset this size")
            for row in zip(*cells):
                ws.append([_xlsx_cell(ws, v, date_format, WriteOnlyCell) for v in row])
            _count_kinds(counts, kinds)
        reports[file_key] = {"rows": rows, "messy_rows": counts}
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_reproducible_zip(buffer.getvalue(), fixed))
    return reports


def _title_rows(ds: Dataset, layout: Layout, file_key: str) -> list[str]:
    return [row.format(date=ds.exported_on) for row in TITLE_ROWS.get((layout.name, file_key), ())]


def _xlsx_cell(ws, value, date_format: str, cell_type):
    if isinstance(value, dt.date):
        cell = cell_type(ws, value=value)
        cell.number_format = date_format
        return cell
    return value


def _reproducible_zip(data: bytes, fixed: dt.datetime) -> bytes:
    stamp = fixed.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), content)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, content)
    return out.getvalue()


def export_file(layout: str, fmt: str, file_key: str | None = None) -> str:
    """Where a rendering's file goes, relative to the output folder: a CSV per file kind, or the
    layout's workbook; the name carries the rendering's export date (EXPORTS)."""
    stamp = EXPORTS[(layout, fmt)].strftime(FILE_DATE_STAMPS.get(layout, "%Y-%m-%d"))
    return f"{layout}/{fmt}/{file_key if fmt == 'csv' else layout}_{stamp}.{fmt}"


def write_samples(ds: Dataset, out: Path, layouts=LAYOUTS, formats=FORMATS,
                  progress=lambda line: None) -> dict:
    """Render each layout and format under `out`, each as the export of its day (EXPORTS,
    made from `ds` by snapshot()); write and return the manifest."""
    out = Path(out)
    files: dict[str, dict] = {}
    exports: list[dict] = []
    for name in layouts:
        layout = load_layout(name)
        for fmt in formats:
            if fmt not in FORMATS:
                raise ValueError(f"unknown format {fmt!r} (expected one of {FORMATS})")
            started = time.perf_counter()
            view = expressible(snapshot(ds, EXPORTS[(name, fmt)]), layout)
            dated = {"exported_at": view.exported_on.isoformat()}
            if fmt == "csv":
                for file_key in layout.files:
                    rel = export_file(name, fmt, file_key)
                    report = write_csv(view, layout, file_key, out / rel)
                    files[rel] = {"layout": name, "format": "csv", "file": file_key, **dated, **report}
                    progress(f"  wrote {rel}: {report['rows']:,} rows")
            else:
                rel = export_file(name, fmt)
                for file_key, report in write_xlsx(view, layout, out / rel).items():
                    files[f"{rel}#{file_key}"] = {"layout": name, "format": "xlsx", "file": file_key,
                                                  "sheet": file_key, **dated, **report}
                    progress(f"  wrote {rel} sheet {file_key}: {report['rows']:,} rows")
            exports.append({"layout": name, "format": fmt, **dated,
                            "rows": {t: len(view.tables[t]) for t in TABLE_ORDER},
                            "expected_loaded": view.expected_loaded()})
            progress(f"{name}/{fmt} (exported {view.exported_on}) done in {time.perf_counter() - started:.1f} s")
    manifest = {
        "generator": "synth",
        "seed": ds.seed,
        "n_motions_requested": ds.n_motions_requested,
        "messy_rate": ds.messy_rate,
        "as_of": AS_OF.isoformat(),
        # rows, expected_loaded and messy: the records as they stand on as_of (the latest export)
        "rows": {t: len(ds.tables[t]) for t in TABLE_ORDER},
        "expected_loaded": ds.expected_loaded(),
        "messy": ds.messy_summary(),
        "exports": sorted(exports, key=lambda e: (e["exported_at"], e["layout"], e["format"])),
        "files": files,
    }
    (out / "generator_manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                                 encoding="utf-8")
    return manifest
