-- Removal avoided, one row per client with removal exposure at intake (docs/glossary.md).
with clients as (
    select * from {{ ref('int_client_relief') }} where has_removal_exposure
),

outcomes_after_relief as (
    select
        e.client_id, e.event_id, e.event_type, e.event_date,
        t.outcome_class, t.same_day_precedence, t.confirms_only_without_removal_order
    from {{ ref('int_immigration_events') }} e
    join {{ ref('immigration_event_types') }} t using (event_type)
    join clients c using (client_id)
    -- An event on the day of the relief decision counts as after it.
    where t.is_final_outcome and e.event_date >= c.first_effective_relief_date
),

-- A release from detention confirms removal avoided only when no removal order stands: a
-- release that follows an adverse event after the relief is not evidence. (The client's first
-- adverse date, joined, rather than NOT EXISTS under an OR, which PostgreSQL runs once per
-- event over all events: 10 times the events took over 100 times as long.)
first_adverse as (
    select client_id, min(event_date) as first_adverse_date
    from outcomes_after_relief
    where outcome_class = 'adverse'
    group by client_id
),

usable_outcomes as (
    select o.*
    from outcomes_after_relief o
    left join first_adverse f on f.client_id = o.client_id
    where not o.confirms_only_without_removal_order
        or f.first_adverse_date is null
        or f.first_adverse_date > o.event_date
),

deciding_event as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by client_id order by event_date desc, same_day_precedence, event_id
            ) as outcome_rank
        from usable_outcomes
    ) as ranked
    where outcome_rank = 1
)

select
    c.client_id,
    c.exposure_in_proceedings,
    c.exposure_final_order,
    c.exposure_detained,
    c.exposure_removal_ground_conviction,
    c.removal_ground_convictions,
    c.removal_ground_convictions_cleared,
    case
        when c.first_effective_relief_date is null
            then case when c.has_pending_motion or c.has_open_case then 'none_yet' else 'no_effective_relief' end
        when d.outcome_class = 'favourable' then 'confirmed'
        when d.outcome_class = 'adverse' then 'not_avoided'
        when d.outcome_class = 'administrative_closure' then 'administrative_closure'
        when c.removal_ground_convictions_cleared = c.removal_ground_convictions then 'projected'
        else 'partial_relief'
    end as removal_avoided_status,
    c.first_effective_relief_motion_id as deciding_motion_id,
    c.first_effective_relief_date as relief_date,
    d.event_id as deciding_event_id,
    d.event_type as deciding_event_type,
    d.event_date as deciding_event_date,
    coalesce(d.event_date, c.first_effective_relief_date) as status_date,
    coalesce(c.first_effective_relief_motion_id, c.latest_motion_id) as attribution_motion_id
from clients c
left join deciding_event d using (client_id)
