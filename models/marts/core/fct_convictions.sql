-- One row per conviction, with its final relief state (latest motion of each re-filing chain).
-- The court case number is not carried here, not even hashed.
select
    cv.conviction_id,
    cv.case_id,
    cs.client_id,
    cv.county,
    cv.offense_code,
    cv.offense_level,
    cv.conviction_date,
    cv.removal_ground,
    cv.removal_ground_type,
    st.motions,
    st.superseded_motions,
    st.chains,
    st.relief_status,
    st.is_cleared,
    st.cleared_date,
    st.is_vacated,
    st.involves_confidential_survivor_vehicle
from {{ ref('stg_convictions') }} cv
join {{ ref('int_cases') }} cs using (case_id)
join {{ ref('int_conviction_status') }} st using (conviction_id)
