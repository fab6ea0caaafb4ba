"""What the workspace says to a person, in Chinese (the default) and English: one catalogue.

Reasons, talking points and rationales come translated from the API's own code; this
catalogue holds the page's words (titles, headers, buttons, messages) and the labels of
codes the data carries (visit purposes, skills, roles), so no raw code reaches a page.
"""

from __future__ import annotations

from features.contract import SKILL_NAMES_ZH, SKILLS

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

PURPOSES: dict[str, tuple[str, str]] = {
    "order_decline_followup": ("订货下降跟进", "Order-decline follow-up"),
    "brand_cultivation": ("品牌培育", "Brand cultivation"),
    "business_guidance": ("经营指导", "Business guidance"),
    "complaint_recovery": ("投诉回访", "Complaint recovery"),
    "market_research": ("市场调研", "Market research"),
    "relationship_maintenance": ("重点客户维护", "Relationship maintenance"),
    "onboarding": ("新户建档", "Onboarding"),
    "routine": ("例行拜访", "Routine visit"),
    "win_back": ("停订客户挽回", "Win-back of a lapsed retailer"),
}

SKILL_NAMES_EN: dict[str, str] = {
    "market_insight": "Market insight",
    "market_operation": "Market operation",
    "brand_cultivation": "Brand cultivation",
    "communication": "Communication",
    "analysis_guidance": "Analysis and guidance",
    "business_enablement": "Retailer enablement",
    "crm_data": "CRM and data",
    "planning": "Planning",
    "ethics": "Ethics",
}

MESSAGES: dict[str, tuple[str, str]] = {
    "app_name": ("客户经理工作台", "Field coach workspace"),
    "skip": ("跳到正文", "Skip to content"),
    "language_switch": ("English", "中文"),
    "language_switch_label": ("Switch to English", "切换到中文"),
    "signin": ("登录", "Sign in"),
    "signin_intro": (
        "粘贴管理员发给您的 API 密钥（只需一次），之后浏览器会记住登录状态。",
        "Paste the API key you were given (once); the browser then keeps you signed in.",
    ),
    "api_key": ("API 密钥", "API key"),
    "signin_failed": ("密钥无效或已停用。", "That key is unknown or revoked."),
    "signout": ("退出", "Sign out"),
    "signed_in_as": ("当前角色", "Signed in as"),
    "nav_plan": ("拜访计划", "Visit plans"),
    "nav_skills": ("技能与培训", "Skills and training"),
    "nav_cohorts": ("培训班", "Cohorts"),
    "nav_models": ("模型", "Models"),
    "role_planner": ("线路计划员", "Visit planner"),
    "role_coordinator": ("培训专员", "Training coordinator"),
    "role_data_scientist": ("数据科学家", "Data scientist"),
    "role_admin": ("管理员", "Administrator"),
    "admin_home": (
        "管理员通过命令行或 API 管理密钥（fieldcoach keys create）。",
        "Administrators manage keys from the command line or the API (fieldcoach keys create).",
    ),
    "refused": ("无权访问", "Not allowed"),
    "not_found": ("找不到", "Not found"),
    "bad_input": ("输入有误", "Invalid input"),
    "unavailable": ("暂不可用", "Not available yet"),
    "error_detail": ("详情", "Detail"),
    "back_home": ("返回首页", "Back to the start page"),
    "teams": ("团队", "Teams"),
    "team": ("团队", "Team"),
    "week": ("周", "Week"),
    "team_week": ("团队本周计划", "Team week"),
    "manager": ("客户经理", "Manager"),
    "managers": ("客户经理", "Managers"),
    "planned_visits": ("计划拜访", "Planned visits"),
    "capacity_used": ("容量使用", "Capacity used"),
    "value_saved": ("预计挽回订货额（元）", "Expected value saved (yuan)"),
    "falling_due": ("到期必访", "Falling due"),
    "total": ("合计", "Total"),
    "km": ("公里", "km"),
    "manager_week": ("本周拜访计划", "Week plan"),
    "ranked_visits": ("按优先级排列的拜访", "Visits by priority"),
    "rank": ("序", "#"),
    "retailer": ("零售户", "Retailer"),
    "purpose": ("拜访目的", "Purpose"),
    "reasons": ("原因", "Reasons"),
    "talking_point": ("沟通要点", "Talking point"),
    "risk": ("流失风险", "Churn risk"),
    "benefit": ("预计挽回（元）", "Expected saving (yuan)"),
    "day": ("日期", "Day"),
    "stop": ("站", "Stop"),
    "due": ("到期", "due"),
    "status": ("状态", "Status"),
    "actions": ("操作", "Actions"),
    "accept": ("接受", "Accept"),
    "reject": ("拒绝", "Reject"),
    "reject_reason": ("拒绝原因", "Reason for rejecting"),
    "mark_done": ("已拜访", "Mark done"),
    "accepted": ("已接受", "Accepted"),
    "rejected": ("已拒绝", "Rejected"),
    "done": ("已完成", "Done"),
    "pending": ("待定", "Open"),
    "saved": ("已保存。", "Saved."),
    "replan": ("重新计划", "Re-plan"),
    "capacity": ("本周拜访容量", "Visits this week"),
    "days": ("工作天数", "Working days"),
    "download_csv": ("下载 Excel 表（CSV）", "Download for Excel (CSV)"),
    "map": ("路线图", "Route map"),
    "map_label": ("按日期排列的拜访路线，每条线为一天", "Visit routes, one line per day"),
    "routes": ("每日路线", "Daily routes"),
    "visits": ("次拜访", "visits"),
    "source_precomputed": ("预先计算的计划", "precomputed plan"),
    "source_computed": ("即时计算的计划", "plan computed on request"),
    "notes": ("说明", "Notes"),
    "value_at_risk": ("风险订货额（元）", "Value at risk (yuan)"),
    "expected_lost": ("预计损失（元）", "Expected loss (yuan)"),
    "churned": ("已流失", "churned"),
    "active": ("在营", "active"),
    "lapsed": ("已停订", "lapsed"),
    "recent_orders": ("近 13 周订货额", "Orders, last 13 weeks"),
    "orders_chart_label": ("近 13 周每周订货额柱状图", "Weekly order value, last 13 weeks"),
    "visit_history": ("拜访记录", "Visit history"),
    "no_visits": ("暂无拜访记录。", "No visits recorded."),
    "date": ("日期", "Date"),
    "duration_min": ("时长（分钟）", "Minutes"),
    "feedback": ("反馈", "Feedback"),
    "skill_gaps": ("团队技能差距", "Team skill gaps"),
    "gap_legend": (
        "数字为目标与估计之差（越大越需培训）。",
        "Numbers are target minus estimate (larger: more training needed).",
    ),
    "skill": ("技能", "Skill"),
    "estimate": ("估计", "Estimate"),
    "uncertainty": ("不确定性（±）", "Uncertainty (±)"),
    "target": ("目标", "Target"),
    "gap": ("差距", "Gap"),
    "evidence": ("依据", "Evidence"),
    "kpi_only": ("仅依据业绩指标", "KPI only"),
    "manager_skills": ("技能画像", "Skills"),
    "training_plan": ("推荐培训", "Recommended training"),
    "course": ("课程", "Course"),
    "hours": ("学时", "Hours"),
    "rationale": ("推荐理由", "Rationale"),
    "record_training": ("登记完成培训", "Record a completed training"),
    "completed_on": ("完成日期", "Completed on"),
    "record": ("登记", "Record"),
    "cohorts": ("培训班（按课程分组）", "Cohorts by course"),
    "members": ("学员", "Members"),
    "size": ("人数", "Size"),
    "unplaced": ("未分班", "Not placed"),
    "download_cohorts": ("下载培训班名单（CSV）", "Download cohorts (CSV)"),
    "models": ("已注册模型", "Registered models"),
    "model": ("模型", "Model"),
    "version": ("版本", "Version"),
    "aliases": ("别名", "Aliases"),
    "serving": ("在线", "Serving"),
    "metrics": ("留出集指标", "Holdout metrics"),
    "promotion": ("晋级规则结果", "Promotion rule outcome"),
    "promote": ("设为冠军", "Promote to champion"),
    "rollback": ("回滚到上一冠军", "Roll back to previous champion"),
    "confirm": ("我确认", "I confirm"),
    "confirm_needed": ("请先勾选“我确认”。", "Tick “I confirm” first."),
    "reload_note": (
        "更改后服务会重新加载冠军模型。",
        "The service reloads the champions after a change.",
    ),
    "data_status": ("数据文件夹状态", "Data folder status"),
    "folder": ("文件夹", "Folder"),
    "last_date": ("最后日期", "Last date"),
    "table": ("表", "Table"),
    "rows": ("行数", "Rows"),
    "problems": ("校验问题", "Validation problems"),
    "no_problems": ("数据符合约定。", "The data meets the contract."),
    "data_not_loaded": ("数据未加载", "Data not loaded"),
    "mlflow_ui": ("打开 MLflow 界面", "Open the MLflow UI"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def translate(language: str, key: str, **values: object) -> str:
    """The message ``key`` in ``language`` (zh or en), with ``{name}`` fields filled."""
    zh, en = MESSAGES[key]
    text = en if language == "en" else zh
    return text.format(**values) if values else text


def purpose_label(language: str, purpose: str | None) -> str:
    if not purpose:
        return ""
    zh, en = PURPOSES.get(purpose, (purpose, purpose))
    return en if language == "en" else zh


def skill_label(language: str, skill: str) -> str:
    if language == "en":
        return SKILL_NAMES_EN.get(skill, skill)
    return SKILL_NAMES_ZH.get(skill, skill)


def check_catalogue() -> None:
    """Every skill and purpose has a label (a test calls this)."""
    from features.contract import VISIT_PURPOSES

    missing = [p for p in VISIT_PURPOSES if p not in PURPOSES]
    missing += [s for s in SKILLS if s not in SKILL_NAMES_EN or s not in SKILL_NAMES_ZH]
    if missing:
        raise KeyError(f"no label for {', '.join(missing)}")
