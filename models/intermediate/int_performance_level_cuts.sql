-- Cut scores per subject as an ascending array of the minimum scores of levels 2, 3 and 4:
-- performance level = 1 + number of cut scores the score reaches (macros/score_logic.sql).
select
    subject,
    arraySort(groupArrayIf(toUInt8(min_score), performance_level > 1)) as level_min_scores
from {{ ref('performance_levels') }}
group by subject
