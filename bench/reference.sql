-- The floor: the headline marts computed by hand in DuckDB SQL, straight from the canonical
-- export CSVs, with no framework around it (no ingest bookkeeping, no dbt, no GX, no publish).
-- It does the work the numbers need and nothing else: trim, drop exact duplicate rows, drop the
-- rows ingest would quarantine (bad or missing required values, dates out of order), apply the
-- same rules as the dbt models (client ids of one A-number are one person, re-filing chains,
-- Pickering, 8 CFR 1003.55, removal avoided, Kaplan-Meier), and leave five result tables behind:
--   ref_granted_by_vehicle, ref_grant_rates, ref_removal_avoided, ref_km_medians, ref_pro_bono
-- bench/run.py sets the variables export_dir (…/canonical/csv, one export: <table>_<date>.csv)
-- and seed_dir (seeds/) and
-- compares the results with the marts the pipeline published from the same files.
-- The synthetic exports pad values with spaces only, so plain trim() is enough here.

CREATE OR REPLACE TEMP MACRO t(v) AS nullif(trim(v), '');
CREATE OR REPLACE TEMP MACRO d(v) AS try_cast(trim(v) AS DATE);
CREATE OR REPLACE TEMP MACRO b(v) AS CASE lower(trim(v)) WHEN 'true' THEN true WHEN 'false' THEN false END;

CREATE OR REPLACE TEMP TABLE taxonomy AS
SELECT * FROM read_csv(getvariable('seed_dir') || '/vehicle_taxonomy.csv', header = true, all_varchar = true);
CREATE OR REPLACE TEMP TABLE overrides AS
SELECT * FROM read_csv(getvariable('seed_dir') || '/relief_result_overrides.csv', header = true, all_varchar = true);
CREATE OR REPLACE TEMP TABLE event_types AS
SELECT event_type, outcome_class, is_final_outcome::BOOLEAN AS is_final_outcome,
       same_day_precedence::INTEGER AS same_day_precedence,
       confirms_only_without_removal_order::BOOLEAN AS confirms_only_without_removal_order
FROM read_csv(getvariable('seed_dir') || '/immigration_event_types.csv', header = true, all_varchar = true);

-- Staged tables: distinct trimmed rows that pass the contract's row rules.
-- A-number as ingest reads it: 'A', '#', dots, spaces and dashes dropped, 8 digits padded to 9;
-- any other value is quarantined with its row.
CREATE OR REPLACE TEMP MACRO a_digits(v) AS regexp_replace(trim(v), '[Aa#.\s\-]', '', 'g');
CREATE OR REPLACE TEMP TABLE client_ids AS
SELECT DISTINCT t(client_id) AS client_id, d(intake_date) AS intake_date,
       CASE WHEN t(a_number) IS NOT NULL THEN lpad(a_digits(a_number), 9, '0') END AS a_number,
       b(in_removal_proceedings) AS in_removal_proceedings, b(final_removal_order) AS final_removal_order,
       b(detained_at_intake) AS detained_at_intake
FROM read_csv(getvariable('export_dir') || '/clients_*.csv', header = true, all_varchar = true)
WHERE t(client_id) IS NOT NULL AND d(intake_date) IS NOT NULL
  AND NOT coalesce(d(date_of_birth) > d(intake_date) OR date_sub('year', d(date_of_birth), d(intake_date)) > 110, false)
  AND NOT coalesce(t(a_number) IS NOT NULL AND NOT regexp_full_match(a_digits(a_number), '[0-9]{8,9}'), false);

-- Clients are people (docs/glossary.md): client ids of one A-number are one client, known by the
-- id of the earliest intake (ties: smallest id); an id without an A-number is a person of its own.
CREATE OR REPLACE TEMP TABLE person_of AS
SELECT client_id AS exported_client_id,
       CASE WHEN a_number IS NULL THEN client_id
            ELSE first_value(client_id) OVER (PARTITION BY a_number ORDER BY intake_date, client_id) END AS client_id
FROM client_ids;

-- Exposure at intake is yes when any of the person's intakes said yes.
CREATE OR REPLACE TEMP TABLE clients AS
SELECT p.client_id, min(c.intake_date) AS intake_date,
       bool_or(c.in_removal_proceedings) AS in_removal_proceedings,
       bool_or(c.final_removal_order) AS final_removal_order, bool_or(c.detained_at_intake) AS detained_at_intake
FROM client_ids c JOIN person_of p ON p.exported_client_id = c.client_id
GROUP BY p.client_id;

CREATE OR REPLACE TEMP TABLE cases AS
SELECT DISTINCT t(case_id) AS case_id, coalesce(p.client_id, t(cs.client_id)) AS client_id,
       d(intake_date) AS intake_date,
       d(eligibility_date) AS eligibility_date, d(referral_date) AS referral_date, d(closed_date) AS closed_date,
       t(partner_firm) AS partner_firm, t(case_status) AS case_status
FROM read_csv(getvariable('export_dir') || '/cases_*.csv', header = true, all_varchar = true) cs
LEFT JOIN person_of p ON p.exported_client_id = t(cs.client_id)
WHERE t(case_id) IS NOT NULL AND t(cs.client_id) IS NOT NULL AND d(intake_date) IS NOT NULL
  AND NOT coalesce(d(eligibility_date) < d(intake_date) OR d(referral_date) < d(intake_date)
                   OR d(closed_date) < d(intake_date), false);

CREATE OR REPLACE TEMP TABLE convictions AS
SELECT DISTINCT t(conviction_id) AS conviction_id, t(case_id) AS case_id, t(county) AS county,
       d(conviction_date) AS conviction_date, b(removal_ground) AS removal_ground
FROM read_csv(getvariable('export_dir') || '/convictions_*.csv', header = true, all_varchar = true)
WHERE t(conviction_id) IS NOT NULL AND t(case_id) IS NOT NULL AND t(county) IS NOT NULL;

CREATE OR REPLACE TEMP TABLE motions AS
SELECT * FROM (
    SELECT DISTINCT t(motion_id) AS motion_id, t(conviction_id) AS conviction_id, t(vehicle) AS vehicle,
           d(filing_date) AS filing_date, d(hearing_date) AS hearing_date, d(decision_date) AS decision_date,
           lower(t(outcome)) AS outcome, lower(t(result_type)) AS result_type, lower(t(grant_ground)) AS grant_ground,
           b(order_states_ground) AS order_states_ground, b(order_cites_subsection) AS order_cites_subsection,
           b(relied_on_relief) AS relied_on_relief, t(refiled_from_motion_id) AS refiled_from_motion_id
    FROM read_csv(getvariable('export_dir') || '/motions_*.csv', header = true, all_varchar = true)
)
WHERE motion_id IS NOT NULL AND conviction_id IS NOT NULL
  AND vehicle IN (SELECT vehicle FROM taxonomy)
  AND outcome IN ('granted', 'granted_in_part', 'denied', 'withdrawn', 'pending')
  AND NOT (outcome IN ('granted', 'granted_in_part', 'denied') AND decision_date IS NULL)
  AND NOT coalesce(decision_date < filing_date OR hearing_date < filing_date, false);

CREATE OR REPLACE TEMP TABLE events AS
SELECT DISTINCT t(event_id) AS event_id, coalesce(p.client_id, t(e.client_id)) AS client_id,
       t(event_type) AS event_type,
       d(event_date) AS event_date
FROM read_csv(getvariable('export_dir') || '/immigration_events_*.csv', header = true, all_varchar = true) e
LEFT JOIN person_of p ON p.exported_client_id = t(e.client_id)
WHERE t(event_id) IS NOT NULL AND t(e.client_id) IS NOT NULL AND t(event_type) IS NOT NULL
  AND d(event_date) IS NOT NULL;

CREATE OR REPLACE TEMP TABLE hours AS
SELECT DISTINCT t(entry_id) AS entry_id, t(case_id) AS case_id, t(partner_firm) AS partner_firm,
       t(attorney_id) AS attorney_id, d(entry_date) AS entry_date, try_cast(trim(hours) AS DOUBLE) AS hours
FROM read_csv(getvariable('export_dir') || '/time_entries_*.csv', header = true, all_varchar = true)
WHERE t(entry_id) IS NOT NULL AND t(case_id) IS NOT NULL AND t(partner_firm) IS NOT NULL
  AND t(attorney_id) IS NOT NULL AND d(entry_date) IS NOT NULL
  AND try_cast(trim(hours) AS DOUBLE) > 0 AND try_cast(trim(hours) AS DOUBLE) <= 24;

-- Re-filing chains: the latest motion of each chain decides its conviction's state.
CREATE OR REPLACE TEMP TABLE chains AS
WITH RECURSIVE walk AS (
    SELECT motion_id, motion_id AS root, 1 AS pos FROM motions WHERE refiled_from_motion_id IS NULL
    UNION ALL
    SELECT m.motion_id, w.root, w.pos + 1 FROM motions m JOIN walk w ON m.refiled_from_motion_id = w.motion_id
    WHERE w.pos < 100
)
SELECT m.motion_id, w.root,
       row_number() OVER (PARTITION BY w.root ORDER BY w.pos DESC, m.filing_date DESC NULLS LAST, m.motion_id DESC) = 1
           AS is_final
FROM motions m LEFT JOIN walk w USING (motion_id);

-- Each motion with its legal classification.
CREATE OR REPLACE TEMP TABLE relief AS
WITH joined AS (
    SELECT m.*, cs.client_id, cs.case_id, cs.partner_firm, cs.intake_date AS case_intake_date, cs.referral_date,
           cv.county, cv.conviction_date, ch.root, ch.is_final,
           coalesce(ov.relief_kind, tx.relief_kind) AS relief_kind,
           coalesce(ov.recognition_class, tx.recognition_class) AS recognition_class,
           tx.requires_defect_ground::BOOLEAN AS requires_defect_ground,
           outcome IN ('granted', 'granted_in_part') AS is_granted,
           outcome IN ('granted', 'granted_in_part', 'denied') AS is_decided
    FROM motions m
    JOIN convictions cv USING (conviction_id)
    JOIN cases cs ON cs.case_id = cv.case_id
    JOIN taxonomy tx ON tx.vehicle = m.vehicle
    LEFT JOIN overrides ov ON ov.vehicle = m.vehicle AND ov.result_type = m.result_type
        AND m.outcome IN ('granted', 'granted_in_part')
    LEFT JOIN chains ch USING (motion_id)
), classified AS (
    SELECT *,
        CASE WHEN NOT is_granted THEN NULL
             WHEN relief_kind = 'vacatur' AND grant_ground IN ('rehabilitation', 'immigration_hardship') THEN 'not_recognized'
             WHEN relief_kind = 'vacatur' AND requires_defect_ground
                 THEN CASE WHEN grant_ground = 'legal_defect' THEN recognition_class ELSE 'uncertain' END
             ELSE recognition_class END AS effective_class,
        is_granted AND relief_kind = 'sentence_modification' AND (
            filing_date <= DATE '2019-10-25'
            OR (conviction_date <= DATE '2019-10-25' AND relied_on_relief)
            OR grant_ground IN ('clerical_error', 'legal_defect')) AS is_sm_honoured
    FROM joined
)
SELECT *, coalesce(effective_class IN ('vacatur_recognized', 'offense_reduction') OR is_sm_honoured, false) AS is_effective
FROM classified;

-- Removal avoided, per client with removal exposure at intake.
CREATE OR REPLACE TEMP TABLE client_relief AS
WITH conviction_cleared AS (
    SELECT conviction_id, bool_or(is_effective) AS is_cleared FROM relief WHERE is_final GROUP BY 1
), ground AS (
    SELECT cs.client_id, count(*) FILTER (WHERE cv.removal_ground) AS grounds,
           count(*) FILTER (WHERE cv.removal_ground AND coalesce(cc.is_cleared, false)) AS cleared
    FROM convictions cv JOIN cases cs USING (case_id) LEFT JOIN conviction_cleared cc USING (conviction_id)
    GROUP BY 1
), first_relief AS (
    SELECT client_id, arg_min(motion_id, (decision_date, motion_id)) AS motion_id, min(decision_date) AS relief_date
    FROM relief WHERE is_final AND is_effective GROUP BY 1
), pending AS (
    SELECT client_id, bool_or(outcome = 'pending') AS has_pending FROM relief WHERE is_final GROUP BY 1
), open_case AS (
    SELECT client_id, bool_or(case_status = 'open') AS has_open FROM cases GROUP BY 1
)
SELECT c.client_id, coalesce(g.grounds, 0) AS grounds, coalesce(g.cleared, 0) AS cleared,
       fr.motion_id AS relief_motion_id, fr.relief_date,
       coalesce(p.has_pending, false) OR coalesce(o.has_open, false) AS has_open_work
FROM clients c
LEFT JOIN ground g USING (client_id) LEFT JOIN first_relief fr USING (client_id)
LEFT JOIN pending p USING (client_id) LEFT JOIN open_case o USING (client_id)
WHERE coalesce(c.in_removal_proceedings, false) OR coalesce(c.final_removal_order, false)
   OR coalesce(c.detained_at_intake, false) OR coalesce(g.grounds, 0) > 0;

CREATE OR REPLACE TEMP TABLE removal_avoided AS
WITH after_relief AS (
    SELECT e.client_id, e.event_id, e.event_date, et.outcome_class, et.same_day_precedence,
           et.confirms_only_without_removal_order
    FROM events e JOIN event_types et USING (event_type) JOIN client_relief c USING (client_id)
    WHERE et.is_final_outcome AND e.event_date >= c.relief_date
), adverse AS (
    SELECT client_id, min(event_date) AS first_adverse FROM after_relief WHERE outcome_class = 'adverse' GROUP BY 1
), deciding AS (
    SELECT a.* FROM after_relief a LEFT JOIN adverse v USING (client_id)
    WHERE NOT a.confirms_only_without_removal_order OR v.first_adverse IS NULL OR v.first_adverse > a.event_date
    QUALIFY row_number() OVER (PARTITION BY client_id ORDER BY event_date DESC, same_day_precedence, event_id) = 1
)
SELECT c.client_id, c.relief_motion_id, c.relief_date, dv.event_date AS deciding_event_date,
    CASE WHEN c.relief_date IS NULL THEN CASE WHEN c.has_open_work THEN 'none_yet' ELSE 'no_effective_relief' END
         WHEN dv.outcome_class = 'favourable' THEN 'confirmed'
         WHEN dv.outcome_class = 'adverse' THEN 'not_avoided'
         WHEN dv.outcome_class = 'administrative_closure' THEN 'administrative_closure'
         WHEN c.cleared = c.grounds THEN 'projected'
         ELSE 'partial_relief' END AS status
FROM client_relief c LEFT JOIN deciding dv USING (client_id);

-- Time to resolution: survival units, censored at the as-of date (latest date in the data).
CREATE OR REPLACE TEMP TABLE units AS
WITH as_of AS (
    SELECT least(max(x), current_date) AS as_of FROM (
        SELECT max(intake_date) AS x FROM clients UNION ALL SELECT max(intake_date) FROM cases
        UNION ALL SELECT max(referral_date) FROM cases
        UNION ALL SELECT max(eligibility_date) FROM cases UNION ALL SELECT max(closed_date) FROM cases
        UNION ALL SELECT max(filing_date) FROM motions UNION ALL SELECT max(decision_date) FROM motions
        UNION ALL SELECT max(event_date) FROM events UNION ALL SELECT max(entry_date) FROM hours)
), m AS (
    SELECT *, CASE WHEN is_decided THEN decision_date END AS decided_on,
              CASE WHEN outcome = 'withdrawn' THEN decision_date END AS withdrawn_on
    FROM relief
), starts AS (
    SELECT 'referral_to_decision' AS measure, vehicle, referral_date AS start_date, decided_on AS event_on, withdrawn_on AS censored_on
    FROM m WHERE is_final AND referral_date IS NOT NULL
    UNION ALL SELECT 'intake_to_decision', vehicle, case_intake_date, decided_on, withdrawn_on FROM m WHERE is_final
    UNION ALL SELECT 'filing_to_decision', vehicle, filing_date, decided_on, withdrawn_on FROM m WHERE filing_date IS NOT NULL
    UNION ALL SELECT 'decision_to_immigration_outcome', m.vehicle, r.relief_date, r.deciding_event_date, NULL
    FROM removal_avoided r JOIN m ON m.motion_id = r.relief_motion_id WHERE r.relief_date IS NOT NULL
)
SELECT measure, vehicle, coalesce(event_on <= as_of, false) AS is_event,
       date_diff('day', start_date, CASE WHEN event_on <= as_of THEN event_on
                                         ELSE least(coalesce(censored_on, as_of), as_of) END) AS duration
FROM starts CROSS JOIN as_of WHERE start_date <= as_of;

-- The five headline results.
CREATE OR REPLACE TEMP TABLE ref_granted_by_vehicle AS
SELECT vehicle,
       count(*) AS motions_granted,
       count(*) FILTER (WHERE relief_kind = 'vacatur') AS vacaturs_granted,
       count(*) FILTER (WHERE relief_kind = 'vacatur' AND effective_class = 'vacatur_recognized') AS vacaturs_recognized,
       count(*) FILTER (WHERE relief_kind = 'vacatur' AND effective_class = 'uncertain') AS vacaturs_uncertain,
       count(*) FILTER (WHERE relief_kind = 'vacatur' AND effective_class = 'not_recognized') AS vacaturs_not_recognized,
       count(*) FILTER (WHERE relief_kind = 'offense_reduction') AS offense_reductions_granted,
       count(*) FILTER (WHERE relief_kind = 'sentence_modification') AS sentence_modifications_granted,
       count(*) FILTER (WHERE is_sm_honoured) AS sentence_modifications_honoured,
       count(*) FILTER (WHERE is_effective) AS immigration_effective_granted
FROM relief WHERE is_granted GROUP BY vehicle;

CREATE OR REPLACE TEMP TABLE ref_grant_rates AS
SELECT coalesce(vehicle, 'all') AS vehicle,
       count(*) FILTER (WHERE is_decided) AS motions_decided,
       count(*) FILTER (WHERE is_granted) AS motions_granted,
       count(*) FILTER (WHERE is_granted) / nullif(count(*) FILTER (WHERE is_decided), 0) AS grant_rate
FROM relief GROUP BY ROLLUP (vehicle);

CREATE OR REPLACE TEMP TABLE ref_removal_avoided AS
SELECT status, count(*) AS clients FROM removal_avoided GROUP BY status;

CREATE OR REPLACE TEMP TABLE ref_km_medians AS
WITH points AS (
    SELECT measure, coalesce(vehicle, 'all') AS grp, duration, count(*) FILTER (WHERE is_event) AS events, count(*) AS n
    FROM units GROUP BY GROUPING SETS ((measure, duration), (measure, vehicle, duration))
), at_risk AS (
    SELECT *, sum(n) OVER (PARTITION BY measure, grp ORDER BY duration DESC) AS at_risk FROM points
), curve AS (
    SELECT measure, grp, duration,
           product(1 - events / at_risk) OVER (PARTITION BY measure, grp ORDER BY duration) AS survival
    FROM at_risk
)
SELECT measure, grp AS vehicle, min(duration) FILTER (WHERE survival <= 0.5 + 1e-9) AS km_median_days
FROM curve GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE ref_pro_bono AS
SELECT h.partner_firm, sum(h.hours) AS hours, count(DISTINCT h.attorney_id) AS attorneys_participating,
       count(DISTINCT h.case_id) AS cases_with_time, sum(h.hours) * 500 AS value_usd
FROM hours h JOIN cases USING (case_id) GROUP BY h.partner_firm;
