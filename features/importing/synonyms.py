"""Built-in names for what a company's exports call our tables, columns and category values.

Every list is keyed by the contract's own names (``features.contract``), so the contract
stays the one statement of what exists and this module only says how people write it:
Chinese first (the tobacco ordering platform, HR and training systems), then English and
the field labels of the two CRMs the articles name. Where they come from:

- 纷享销客 (FxiaoKe): the customer object ``AccountObj`` exports 客户编码 (``account_no``),
  客户名称 and 负责人 (``owner``); sales orders export 系统订单编号, 客户名称, 下单日期 and
  销售订单总额. Taken from third-party integration code; the vendor's own field reference
  was not reachable, so other labels a tenant configures must come in through a mapping.
- Zoho CRM: Accounts export ``Account Name``, ``Account Number``, ``Account Owner``,
  ``Account Type``; Sales Orders ``SO Number``, ``Account Name``, ``Grand Total``,
  ``Due Date``, ``Created Time``; Calls/Events are activities. Zoho's Chinese labels were
  not found.

Matching is done on ``normalise_name``: full-width forms folded (NFKC), case and spaces,
underscores and hyphens dropped, a trailing unit in brackets (``金额(元)``) and the ``*`` of
a mandatory column in an import template removed.
"""

from __future__ import annotations

import re
import unicodedata

from features.contract import SKILL_NAMES_ZH, SKILLS

_BRACKETED = re.compile(r"[(\[【（][^)\]】）]*[)\]】）]")
_NOISE = re.compile(r"[\s_\-*:：./]+")


def normalise_name(name: object) -> str:
    """A header, file or sheet name folded so that spellings of one name compare equal."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = _BRACKETED.sub("", text)
    return _NOISE.sub("", text)


# Keywords in a file or sheet name, per table. The longest match wins, so 客户经理
# (managers) beats 客户 (retailers); a tie is settled by the headers.
TABLE_NAMES: dict[str, tuple[str, ...]] = {
    "retailers": (
        "retailers",
        "retailer",
        "零售户",
        "零售客户",
        "客户",
        "门店",
        "商户",
        "终端",
        "customers",
        "customer",
        "accounts",
        "account",
        "stores",
        "shops",
    ),
    "managers": (
        "managers",
        "manager",
        "客户经理",
        "经理",
        "员工",
        "人员",
        "花名册",
        "staff",
        "employees",
        "customermanagers",
        "customermanager",
        "users",
    ),
    "orders": (
        "orders",
        "order",
        "订单",
        "订货",
        "销售",
        "要货",
        "salesorders",
        "sales",
    ),
    "visits": ("visits", "visit", "拜访", "走访", "calls", "activities"),
    "assessments": ("assessments", "assessment", "测评", "考核", "评估", "能力"),
    "courses": ("courses", "course", "课程", "catalogue", "catalog"),
    "trainings": ("trainings", "training", "培训", "学习记录", "completions"),
    "surveys": ("surveys", "survey", "满意度", "调查", "问卷"),
    "complaints": ("complaints", "complaint", "投诉"),
}

_RETAILER_ID = (
    "retailer_id",
    "零售户编码",
    "零售户编号",
    "零售户代码",
    "零售户号",
    "客户编码",
    "客户编号",
    "客户代码",
    "客户号",
    "客户id",
    "许可证号",
    "专卖许可证号",
    "烟草专卖许可证号",
    "许可证编号",
    "门店编码",
    "商户编码",
    "account_no",
    "account number",
    "customer id",
    "customer code",
    "customer no",
    "retailer",
)
_MANAGER_ID = (
    "manager_id",
    "客户经理编码",
    "客户经理编号",
    "客户经理工号",
    "客户经理代码",
    "客户经理",
    "经理编码",
    "经理工号",
    "员工编码",
    "员工编号",
    "工号",
    "负责人",
    "负责人编码",
    "owner",
    "account owner",
    "owner id",
    "manager",
    "employee id",
    "employee code",
)

# Header synonyms per table and column (the contract name itself always matches).
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "retailers": {
        "retailer_id": _RETAILER_ID,
        "manager_id": _MANAGER_ID,
        "format": (
            "业态",
            "经营业态",
            "业态类型",
            "门店业态",
            "客户业态",
            "account type",
            "business format",
            "store type",
        ),
        "area_type": (
            "城乡",
            "城乡分类",
            "城乡类型",
            "市场类型",
            "区域类型",
            "城网农网",
            "地域类型",
            "area",
            "area type",
            "urban rural",
        ),
        "grade": (
            "档位",
            "客户档位",
            "零售户档位",
            "档次",
            "分档",
            "客户级别",
            "级别",
            "grade",
            "tier",
            "rating",
        ),
        "lat": ("纬度", "latitude", "lat"),
        "lon": ("经度", "longitude", "lng", "lon", "long"),
        "licensed_on": (
            "发证日期",
            "许可证发证日期",
            "办证日期",
            "开业日期",
            "发证时间",
            "licence date",
            "license date",
            "licensed on",
        ),
        "licence_expires_on": (
            "有效期至",
            "许可证有效期至",
            "到期日期",
            "许可证到期日期",
            "有效期截止",
            "截止日期",
            "licence expiry",
            "license expiry",
            "expires on",
        ),
    },
    "managers": {
        "manager_id": (*_MANAGER_ID, "编码", "编号", "id"),
        "team_id": (
            "市场部",
            "所属市场部",
            "部门",
            "所属部门",
            "班组",
            "团队",
            "片区",
            "team",
            "department",
            "team id",
        ),
        "hired_on": (
            "入职日期",
            "入职时间",
            "参加工作日期",
            "到岗日期",
            "hire date",
            "hired on",
            "start date",
        ),
        "role": ("岗位", "职级", "岗位级别", "职务", "role", "level", "job level", "title"),
        "weekly_capacity": (
            "周拜访能力",
            "每周拜访数",
            "周拜访量",
            "每周拜访上限",
            "weekly capacity",
            "capacity",
        ),
        "home_lat": ("驻地纬度", "住址纬度", "home latitude", "纬度"),
        "home_lon": ("驻地经度", "住址经度", "home longitude", "经度"),
    },
    "orders": {
        "order_id": (
            "订单号",
            "订单编号",
            "订单编码",
            "系统订单编号",
            "单据号",
            "单号",
            "so number",
            "order number",
            "order no",
            "order id",
            "id",
        ),
        "retailer_id": _RETAILER_ID,
        "order_date": (
            "订单日期",
            "订货日期",
            "下单日期",
            "下单时间",
            "订货时间",
            "日期",
            "销售日期",
            "要货日期",
            "order date",
            "date",
            "created time",
            "due date",
        ),
        "quantity": (
            "数量",
            "订货量",
            "订购量",
            "订货数量",
            "订单数量",
            "条数",
            "销量",
            "quantity",
            "qty",
        ),
        "amount": (
            "金额",
            "订单金额",
            "订货金额",
            "销售金额",
            "总金额",
            "销售额",
            "实收金额",
            "应付金额",
            "销售订单总额",
            "grand total",
            "total",
            "amount",
            "value",
        ),
        "brand_count": (
            "规格数",
            "品规数",
            "订货规格数",
            "品牌数",
            "brands",
            "brand count",
            "skus",
        ),
        "premium_share": ("高端占比", "高价位占比", "一二类烟占比", "premium share"),
    },
    "visits": {
        "retailer_id": _RETAILER_ID,
        "manager_id": (*_MANAGER_ID, "拜访人", "拜访人员", "走访人", "assigned to"),
        "visit_date": (
            "拜访日期",
            "拜访时间",
            "走访日期",
            "日期",
            "visit date",
            "date",
            "call start time",
            "start date",
        ),
        "duration_min": (
            "拜访时长",
            "时长",
            "停留时长",
            "时长分钟",
            "duration",
            "call duration",
            "duration minutes",
        ),
        "purpose": (
            "拜访目的",
            "拜访类型",
            "目的",
            "走访目的",
            "purpose",
            "call purpose",
            "visit purpose",
        ),
    },
    "assessments": {
        "manager_id": (*_MANAGER_ID, "被考核人", "被测评人"),
        "assessed_on": ("测评日期", "考核日期", "评估日期", "日期", "assessed on", "date"),
        "skill": ("能力项", "能力", "测评项目", "考核项目", "指标", "skill", "competency"),
        "score": ("得分", "分数", "成绩", "评分", "score"),
    },
    "courses": {
        "course_id": ("课程编码", "课程编号", "课程代码", "course id", "course code", "id"),
        "title": ("课程名称", "课程", "名称", "title", "course name", "name"),
        "skills": ("培养能力", "对应能力", "目标能力", "能力项", "skills"),
        "level": ("课程级别", "级别", "难度", "level"),
        "hours": ("学时", "课时", "时长", "小时", "hours", "duration"),
        "format": ("培训形式", "形式", "授课方式", "format", "delivery"),
        "prerequisites": ("前置课程", "先修课程", "prerequisites"),
        "refresh_after_weeks": ("复训周期", "复训间隔周", "refresh after weeks"),
    },
    "trainings": {
        "manager_id": (*_MANAGER_ID, "学员工号", "学员编码"),
        "course_id": ("课程编码", "课程编号", "课程代码", "course id", "course code"),
        "completed_on": (
            "完成日期",
            "结业日期",
            "培训日期",
            "完成时间",
            "日期",
            "completed on",
            "completion date",
            "date",
        ),
    },
    "surveys": {
        "retailer_id": _RETAILER_ID,
        "surveyed_on": ("调查日期", "调查时间", "回访日期", "日期", "surveyed on", "date"),
        "satisfaction": (
            "满意度",
            "满意度评分",
            "评分",
            "得分",
            "satisfaction",
            "score",
            "rating",
        ),
    },
    "complaints": {
        "complaint_id": ("投诉编号", "投诉单号", "工单号", "complaint id", "case number", "id"),
        "retailer_id": _RETAILER_ID,
        "complained_on": (
            "投诉日期",
            "投诉时间",
            "受理日期",
            "日期",
            "complained on",
            "date",
            "created time",
        ),
        "category": ("投诉类型", "投诉类别", "类别", "类型", "category", "type"),
    },
}

_SKILLS_ZH = {zh: skill for skill, zh in SKILL_NAMES_ZH.items()}

# Category values per contract column: label as written -> contract value. Contract values
# and their spellings with spaces or capitals always match (see ``normalise_name``).
VALUES: dict[str, dict[str, str]] = {
    "format": {
        "便利店": "convenience",
        "连锁便利店": "convenience",
        "便利": "convenience",
        "convenience store": "convenience",
        "超市": "supermarket",
        "超级市场": "supermarket",
        "商超": "supermarket",
        "大卖场": "supermarket",
        "连锁超市": "supermarket",
        "烟酒店": "tobacco_liquor",
        "烟酒商店": "tobacco_liquor",
        "烟酒": "tobacco_liquor",
        "名烟名酒": "tobacco_liquor",
        "烟酒专卖店": "tobacco_liquor",
        "tobacco and liquor": "tobacco_liquor",
        "tobacco & liquor": "tobacco_liquor",
        "食杂店": "grocery",
        "食杂": "grocery",
        "杂货店": "grocery",
        "副食店": "grocery",
        "小卖部": "grocery",
        "百货店": "grocery",
        "娱乐场所": "entertainment",
        "娱乐服务类": "entertainment",
        "娱乐": "entertainment",
        "ktv": "entertainment",
        "网吧": "entertainment",
        "酒吧": "entertainment",
        "其他": "other",
        "其它": "other",
    },
    "area_type": {
        "城镇": "urban",
        "城市": "urban",
        "城区": "urban",
        "市区": "urban",
        "城网": "urban",
        "town": "urban",
        "乡村": "rural",
        "农村": "rural",
        "农网": "rural",
        "village": "rural",
        "countryside": "rural",
    },
    "purpose": {
        "订单下滑跟进": "order_decline_followup",
        "断订跟进": "order_decline_followup",
        "订单下降跟进": "order_decline_followup",
        "销量下滑": "order_decline_followup",
        "品牌培育": "brand_cultivation",
        "新品推广": "brand_cultivation",
        "经营指导": "business_guidance",
        "帮助客户营销": "business_guidance",
        "投诉处理": "complaint_recovery",
        "满意度回访": "complaint_recovery",
        "投诉回访": "complaint_recovery",
        "市场调研": "market_research",
        "信息采集": "market_research",
        "市场调查": "market_research",
        "客情维护": "relationship_maintenance",
        "关系维护": "relationship_maintenance",
        "新户开发": "onboarding",
        "新户走访": "onboarding",
        "新客户": "onboarding",
        "常规拜访": "routine",
        "例行拜访": "routine",
        "日常拜访": "routine",
        "巡访": "routine",
    },
    "category": {
        "服务": "service",
        "服务态度": "service",
        "服务质量": "service",
        "行为": "conduct",
        "作风": "conduct",
        "违规": "conduct",
        "工作作风": "conduct",
        "货源": "supply",
        "供货": "supply",
        "断货": "supply",
        "配送": "supply",
        "价格": "price",
        "其他": "other",
        "其它": "other",
    },
    "skill": _SKILLS_ZH
    | {
        "市场把握": "market_insight",
        "运作市场": "market_operation",
        "价量存": "market_operation",
        "品牌培育": "brand_cultivation",
        "沟通": "communication",
        "分析指导能力": "analysis_guidance",
        "帮助客户营销能力": "business_enablement",
        "crm": "crm_data",
        "数据分析": "crm_data",
        "计划": "planning",
        "职业道德": "ethics",
        "责任感": "ethics",
    },
    "level": {
        "初级": "basic",
        "基础": "basic",
        "入门": "basic",
        "中级": "intermediate",
        "进阶": "intermediate",
        "高级": "advanced",
        "提高": "advanced",
    },
    "course_format": {
        "面授": "classroom",
        "课堂": "classroom",
        "线下": "classroom",
        "集中培训": "classroom",
        "线上": "online",
        "网络": "online",
        "在线": "online",
        "网课": "online",
        "外训": "external",
        "外部": "external",
        "外派": "external",
        "在岗": "on_the_job",
        "岗位实践": "on_the_job",
        "带教": "on_the_job",
    },
}

# Which value list each enum column of the contract uses (courses.format is not retailers').
VALUE_LISTS: dict[tuple[str, str], str] = {
    ("retailers", "format"): "format",
    ("retailers", "area_type"): "area_type",
    ("visits", "purpose"): "purpose",
    ("complaints", "category"): "category",
    ("assessments", "skill"): "skill",
    ("courses", "skills"): "skill",
    ("courses", "level"): "level",
    ("courses", "format"): "course_format",
}


def column_synonyms(table: str) -> dict[str, str]:
    """Normalised header -> contract column, for one table."""
    out: dict[str, str] = {}
    for column, names in COLUMNS[table].items():
        for name in (column, *names):
            out.setdefault(normalise_name(name), column)
    return out


def value_synonyms(table: str, column: str) -> dict[str, str]:
    """Normalised label -> contract value for one enum column (contract values included)."""
    from features.contract import schema_for

    list_name = VALUE_LISTS[(table, column)]
    allowed: list[str] = list(SKILLS) if list_name == "skill" else []
    if not allowed:
        for check in schema_for(table).columns[column].checks:
            if check.name == "isin":
                allowed = list(check.statistics["allowed_values"])
    out = {normalise_name(v): v for v in allowed}
    out.update({normalise_name(v.replace("_", " ")): v for v in allowed})
    for label, value in VALUES[list_name].items():
        out.setdefault(normalise_name(label), value)
    return out
