-- Motions filed / decided / granted and grant rate, by period and by vehicle, county or partner
-- firm. Filings (and motions still pending) fall in the quarter of their filing date, outcomes
-- in the quarter of their decision date. Grant rate = (granted + granted in part) /
-- (granted + granted in part + denied); withdrawn and pending never enter the denominator.
with motions as (
    select * from {{ ref('int_motion_relief') }}
),

dimensions as (
    {{ rows_per_dimension('motions', ['motion_id'],
                          {'vehicle': 'vehicle', 'county': 'county', 'partner_firm': "coalesce(partner_firm, '(none)')"}) }}
),

facts as (
    select
        motion_id,
        coalesce({{ quarter_label('filing_date') }}, 'not_filed') as period,
        case when is_filed then 1 else 0 end as filed,
        case when outcome = 'pending' then 1 else 0 end as pending,
        0 as granted_in_full, 0 as granted_in_part, 0 as denied, 0 as withdrawn
    from motions
    where is_filed or outcome = 'pending'
    union all
    select
        motion_id,
        coalesce({{ quarter_label('decision_date') }}, 'unknown'),
        0, 0,
        case when outcome = 'granted' then 1 else 0 end,
        case when outcome = 'granted_in_part' then 1 else 0 end,
        case when outcome = 'denied' then 1 else 0 end,
        case when outcome = 'withdrawn' then 1 else 0 end
    from motions
    where outcome <> 'pending'
),

totals as (
    select
        {{ all_when_rolled_up('f.period') }} as period,
        d.dimension,
        d.dimension_value,
        cast(sum(f.filed) as bigint) as motions_filed,
        cast(sum(f.granted_in_full + f.granted_in_part + f.denied) as bigint) as motions_decided,
        cast(sum(f.granted_in_full + f.granted_in_part) as bigint) as motions_granted,
        cast(sum(f.granted_in_full) as bigint) as motions_granted_in_full,
        cast(sum(f.granted_in_part) as bigint) as motions_granted_in_part,
        cast(sum(f.denied) as bigint) as motions_denied,
        cast(sum(f.withdrawn) as bigint) as motions_withdrawn,
        cast(sum(f.pending) as bigint) as motions_pending
    from facts f
    join dimensions d using (motion_id)
    group by grouping sets ((f.period, d.dimension, d.dimension_value), (d.dimension, d.dimension_value))
)

select
    *,
    {{ as_double('motions_granted') }} / nullif(motions_decided, 0) as grant_rate
from totals
