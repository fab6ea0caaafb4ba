"""Built-in names for what a company's exports call our tables and columns (category
values are in ``labels``).

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


def column_synonyms(table: str) -> dict[str, str]:
    """Normalised header -> contract column, for one table."""
    out: dict[str, str] = {}
    for column, names in COLUMNS[table].items():
        for name in (column, *names):
            out.setdefault(normalise_name(name), column)
    return out
