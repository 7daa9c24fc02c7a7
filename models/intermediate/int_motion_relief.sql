-- The legal rules, applied motion by motion (docs/glossary.md, "Immigration effect").
-- State-court success (outcome) and immigration effect are separate columns.
{% set cutoff = "date '" ~ var('sentence_modification_cutoff_date') ~ "'" %}

with flagged as (
    select
        *,
        filing_date is not null as is_filed,
        outcome in ('granted', 'granted_in_part', 'denied') as is_decided,
        outcome in ('granted', 'granted_in_part') as is_granted,
        -- Matter of Pickering: a vacatur resting on rehabilitation or immigration hardship is
        -- not honoured, whatever the vehicle.
        outcome in ('granted', 'granted_in_part')
            and relief_kind = 'vacatur'
            and grant_ground in ('rehabilitation', 'immigration_hardship') as is_pickering_not_honoured
    from {{ ref('int_motions_joined') }}
),

classified as (
    select
        *,
        case
            when not is_granted then null
            when is_pickering_not_honoured then 'not_recognized'
            -- PC 1018, nonstatutory motions: recognized only when granted on a defect.
            when relief_kind = 'vacatur' and requires_defect_ground
                then case when grant_ground = 'legal_defect' then vehicle_recognition_class else 'uncertain' end
            else vehicle_recognition_class
        end as effective_recognition_class,
        -- 8 CFR 1003.55: the first condition that holds, in the rule's order.
        case
            when not is_granted or relief_kind <> 'sentence_modification' then null
            when filing_date <= {{ cutoff }} then 'c1_filed_on_or_before_cutoff'
            when conviction_date <= {{ cutoff }} and relied_on_relief then 'c2_entered_on_or_before_cutoff_with_reliance'
            when grant_ground = 'clerical_error' then 'c3_clerical_error'
            when grant_ground = 'legal_defect' then 'c4_procedural_or_substantive_defect'
            when conviction_date <= {{ cutoff }} and relied_on_relief is null then 'not_honoured_reliance_unknown'
            else 'not_honoured'
        end as sentence_modification_condition
    from flagged
),

ruled as (
    select
        *,
    is_granted and relief_kind = 'vacatur' as is_vacatur_granted,
    is_granted and relief_kind = 'offense_reduction' as is_offense_reduction_granted,
    is_granted and relief_kind = 'sentence_modification' as is_sentence_modification_granted,
    is_granted and relief_kind = 'rehabilitative' as is_rehabilitative_granted,
    sentence_modification_condition like 'c%' as is_sentence_modification_honoured,
    coalesce(
        effective_recognition_class in ('vacatur_recognized', 'offense_reduction')
        or sentence_modification_condition like 'c%'
        {% if var('count_uncertain_as_effective') %}or effective_recognition_class = 'uncertain'{% endif %},
        false
    ) as is_immigration_effective,
    -- Orders at risk of being given no effect: no stated ground (Matter of Azrag), no cited
    -- subsection where the statute has subsections (Matter of De Jesus-Platon). NULL when the
    -- order's wording was not recorded or the motion was not granted with an immigration aim.
    case when is_granted and relief_kind <> 'rehabilitative' then not order_states_ground end
        as is_order_ground_missing,
    case when is_granted and relief_kind <> 'rehabilitative' and subsection is not null
        then not order_cites_subsection end as is_order_subsection_missing
from classified
)

select
    *,
    coalesce(is_order_ground_missing, false) or coalesce(is_order_subsection_missing, false) as is_order_at_risk
from ruled
