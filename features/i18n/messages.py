"""The messages and notes a plan, a review or a command shows, by key.

Part of the one catalogue (``features.i18n``); each value is a ``(zh, en)`` pair with
``str.format`` fields. ``features.i18n.Note`` refuses a key that is not here.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # The review of recommended visits (evaluation.uplift).
    "uplift_no_estimate": (
        "数据不足以估计推荐拜访的效果：{why}。",
        "The data cannot support an estimate yet: {why}.",
    ),
    "uplift_positive": (
        "推荐拜访使随后{weeks}周订货额平均增加{estimate}元（95%区间{low}至{high}元）。",
        "A recommended visit added {estimate} yuan of orders over {weeks} weeks "
        "(95% interval {low} to {high}).",
    ),
    "uplift_negative": (
        "推荐拜访后随后{weeks}周订货额平均减少{estimate}元（95%区间{low}至{high}元）。",
        "Recommended visits went with {estimate} yuan less over {weeks} weeks "
        "(95% interval {low} to {high}).",
    ),
    "uplift_unclear": (
        "尚不能确定推荐拜访的效果：估计{estimate}元，95%区间{low}至{high}元包含0。",
        "No clear effect yet: {estimate} yuan, 95% interval {low} to {high} includes 0.",
    ),
    "no_champion": ("未找到已注册的{model}冠军模型。", "No registered {model} champion."),
    "no_loaded_champion": ("服务未加载{model}冠军模型。", "No loaded {model} champion."),
    "churn_needs_features": (
        "流失模型所需的字段在本数据中缺失。",
        "The churn champion needs features this data lacks.",
    ),
    "churn_recency_rule": (
        "流失风险按未订货时长估算（无可用流失模型或历史数据过短）。",
        "Churn risk comes from a recency rule (no usable churn model or thin history).",
    ),
    "effect_needs_features": (
        "拜访效果模型所需的字段在本数据中缺失。",
        "The visit-effect champion needs features this data lacks.",
    ),
    "benefit_fallback": (
        "预计挽回 = 流失概率 × 风险订货额 × {share}（无拜访效果模型时的替代算法）。",
        "Expected benefit = churn probability x value at risk x {share} (no visit-effect "
        "model: the risk x value fallback).",
    ),
    "due_over_capacity": (
        "按{rule}天拜访频次规则有{due}户到期，但本周只能安排{capacity}次拜访，已优先安排"
        "价值最高的到期客户。",
        "{due} retailers are due under the {rule}-day visit rule but the week holds "
        "{capacity} visits; the most valuable due ones are planned.",
    ),
    "non_working_day": (
        "{date}（{holiday}）不是工作日，未安排拜访。",
        "{date} ({holiday}) is not a working day: no visits planned.",
    ),
    "adjusted_working_day": (
        "{date}为调休工作日，已安排拜访。",
        "{date} is an adjusted working day (调休): visits planned.",
    ),
    "fewer_working_days": (
        "本周有{working}个工作日（计划{days}天），拜访量按比例调整为{capacity}次。",
        "The week has {working} working days ({days} planned): capacity scaled to "
        "{capacity} visits.",
    ),
    "no_official_calendar": (
        "{year}年的法定节假日安排尚未收录，按周一至周五计算（可用working_days表补充）。",
        "No official holiday schedule for {year} yet: Monday to Friday assumed (add a "
        "working_days table to correct it).",
    ),
    "no_working_day": (
        "本周没有工作日，未安排拜访。",
        "The week has no working day: no visits planned.",
    ),
    "working_on_holidays": (
        "按要求在非工作日也安排了拜访。",
        "Visits may fall on non-working days, as asked.",
    ),
    "excluded_feedback": (
        "{retailer}暂不拜访（{meaning_zh}：{reason}），{until}起再安排。",
        '{retailer} left out ({meaning_en}: "{reason}") until {until}.',
    ),
    "visit_done": (
        "{retailer}已于{date}完成拜访，计入间隔和频次规则。",
        "{retailer} was visited on {date}: counted for the gap and frequency rules.",
    ),
    "ranking_checked": (
        "排序依据：{ranking}（训练时在留出周上与简单排序比较后选定）。",
        "ranking: {ranking}, because {reason}",
    ),
    "ranking_unchecked": (
        "排序依据：{ranking}（尚无自检记录，重新训练拜访效果模型时会与简单排序比较）。",
        "ranking: {ranking} (no self-check recorded; `fieldcoach train visits` checks it "
        "against the simple rankings)",
    ),
    "base_medoid": (
        "{manager}没有住址坐标：每天从其负责客户的中心（{lat}，{lon}）出发并返回；"
        "在客户经理表中填写住址坐标即可从住址出发。",
        "no home location for {manager}: days start and end at the middle of their own "
        "retailers ({lat}, {lon}); add home_lat/home_lon to managers for routes from home",
    ),
    "pace_from_visits": (
        "{manager}：每次拜访按{minutes}分钟计划，而非默认的{default}分钟"
        "（按近{weeks}周的拜访记录估算：{days}个拜访日，每天约{visits}次）。",
        "visit time from {manager}'s visits of the last {weeks} weeks ({days} days with "
        "visits, about {visits} a day): {minutes} minutes a visit instead of the assumed "
        "{default}",
    ),
    "short_candidates": (
        "计划{planned}次拜访（容量{capacity}次）：{total}户在险客户中本周仅{eligible}户可拜访"
        "（{gap}户在最近{min_gap}天内已拜访）。",
        "{planned} of {capacity} visits planned: only {eligible} of the manager's {total} "
        "retailers at risk can be visited this week ({gap} were visited within the last "
        "{min_gap} days)",
    ),
    "short_time_cap": (
        "计划{planned}次拜访（容量{capacity}次）：求解达到{seconds}秒时限。",
        "{planned} of {capacity} visits planned: the solver hit its {seconds} s time cap",
    ),
    "short_day_minutes": (
        "计划{planned}次拜访（容量{capacity}次）：按这些距离，每天{minutes}分钟"
        "（每次拜访{service}分钟）排不下更多。",
        "{planned} of {capacity} visits planned: the working days ({minutes} minutes, "
        "{service} per visit) hold no more at these distances",
    ),
    "short_not_worth": (
        "计划{planned}次拜访（容量{capacity}次）：其余客户的价值不及路程成本。",
        "{planned} of {capacity} visits planned: the other candidates are worth less than "
        "the drive to them",
    ),
    "exploration": (
        "探索：本周{count}次拜访从{pool}个次优候选中随机抽取（探索比例{share}），"
        "用于学习拜访的真实效果。",
        "exploration: {count} visits were drawn at random among {pool} near-best candidates "
        "(exploration share {share}), so the effect of visits can be learnt",
    ),
    "holdout": (
        "对照：{count}家本应推荐的零售户按随机对照（比例{share}）本周暂不拜访，用于衡量拜访效果。",
        "holdout: {count} retailers the plan would recommend are held back this week at "
        "random (share {share}), to measure what visits achieve",
    ),
    "rotation_fillers": (
        "{count}次拜访按排序没有预期收益，按轮访（最久未访优先）补满本周。",
        "{count} visits have no expected benefit by the ranking and fill the week by "
        "rotation (most overdue first)",
    ),
    "win_back_candidates": (
        "{count}户近{weeks}周没有订货、但仍可能回来的客户列为挽回拜访候选。",
        "{count} retailers with no order in the last {weeks} weeks that may still come back are "
        "win-back candidates",
    ),
    "solver_time_cap": (
        "求解在{seconds}秒安全时限前未达{solutions}个解而停止：重新计划可能得到不同结果。",
        "the solver stopped at its {seconds} s safety cap before {solutions} solutions: a "
        "re-run may give a different plan",
    ),
    # The command line's summary lines of a plan (fieldcoach.cli.plan).
    "cli_plan_head": (
        "{manager} {week}（{monday}起）：安排{planned}次拜访（容量{capacity}次），"
        "预计挽回{benefit}元，共{km}公里",
        "{manager} {week} ({monday}): {planned} of {capacity} visits, expected benefit "
        "{benefit}, {km} km",
    ),
    "cli_plan_day": (
        "{date}：{visits}次拜访，{km}公里：{route}",
        "{date}: {visits} visits, {km} km: {route}",
    ),
    "cli_note": ("说明：{note}", "note: {note}"),
    "cli_team_head": (
        "团队{team} {week}：{managers}名客户经理，{visits}次拜访，预计挽回{benefit}元，共{km}公里",
        "team {team} {week}: {managers} managers, {visits} visits, expected benefit "
        "{benefit}, {km} km",
    ),
    "cli_team_manager": (
        "{manager}：{visits}次拜访，预计挽回{benefit}元，{km}公里",
        "{manager}: {visits} visits, benefit {benefit}, {km} km",
    ),
}
