"""What the import report (``fieldcoach data import``) says about each rule, Chinese first.

Part of the one catalogue (``features.i18n``), kept in a file of its own because the import
report words each rule four ways.

Each rule code maps to (problem zh, problem en, what to do zh, what to do en); ``{table}``,
``{column}``, ``{value}``, ``{detail}`` are filled in per problem.
"""

from __future__ import annotations

IMPORT_RULES: dict[str, tuple[str, str, str, str]] = {
    "id_scientific": (
        "编码被 Excel 改成了科学计数法，后几位已丢失",
        "ID was turned into scientific notation by Excel; its last digits are lost",
        "从源系统重新导出，并把该列设为文本格式（不要在 Excel 中打开后另存为 CSV）",
        "re-export from the source system with the column as text (do not re-save the CSV "
        "from Excel)",
    ),
    "id_precision": (
        "编码超过 15 位，Excel 按数字保存时已丢失末几位",
        "ID longer than 15 digits stored as a number; Excel dropped its last digits",
        "把该列设为文本格式后重新导出",
        "re-export with the column formatted as text",
    ),
    "id_fraction": (
        "编码是带小数的数字",
        "ID is a number with a fraction",
        "检查该单元格，编码应为文本",
        "check the cell; IDs are text",
    ),
    "date_ambiguous": (
        "日期的日和月无法区分（如 02/06/2025 可能是 6 月 2 日或 2 月 6 日）",
        "day and month cannot be told apart (02/06/2025 is 2 June or 6 February)",
        '在映射文件中为该来源写 date_format（如 "%d/%m/%Y"），或改用 2025-06-02 格式',
        'declare date_format for this source in the mapping (e.g. "%d/%m/%Y") or write 2025-06-02',
    ),
    "date_invalid": (
        "不是可识别的日期",
        "not a date",
        "写成 2025-06-02、2025/6/2、2025年6月2日 或 20250602",
        "write it as 2025-06-02, 2025/6/2, 2025年6月2日 or 20250602",
    ),
    "date_format": (
        "与映射文件声明的日期格式 {detail} 不符",
        "does not match the declared date format {detail}",
        "改正该单元格或映射文件中的 date_format",
        "fix the cell or the mapping's date_format",
    ),
    "not_number": (
        "不是数字",
        "not a number",
        "只保留数字（可带 ¥、元、千分位逗号）",
        "keep digits only (¥, 元 and thousands commas are fine)",
    ),
    "not_whole_number": (
        "不是整数",
        "not a whole number",
        "写成整数，档位可写 5、5档 或 第5档",
        "write a whole number; grades may be 5, 5档 or 第5档",
    ),
    "unknown_value": (
        "{column} 的取值无法识别",
        "unknown value for {column}",
        "在映射文件 [values.{table}.{column}] 下写明它对应哪一个：{detail}",
        "map it under [values.{table}.{column}] in the mapping to one of: {detail}",
    ),
    "required_empty": (
        "必填项为空",
        "required value is empty",
        "补上该值，或用 --skip-bad-rows 跳过这些行",
        "fill it in, or skip such rows with --skip-bad-rows",
    ),
    "required_column": (
        "缺少必需的列 {column}（{table}）",
        "required column {column} of {table} is missing",
        "在映射文件 [source.columns] 中指明哪一列是 {column}",
        "name the source column that holds {column} under [source.columns] in the mapping",
    ),
    "unknown_table": (
        "无法判断这是哪张表，已跳过",
        "cannot tell which table this is; skipped",
        "如需导入，在映射文件中写 [[source]] file/sheet/table",
        "to import it, add a [[source]] with file, sheet and table to the mapping",
    ),
    "ambiguous_table": (
        "可能是以下任意一张表：{detail}",
        "could be any of these tables: {detail}",
        '在映射文件中写 [[source]] table = "..."',
        'set table = "..." for it in the mapping',
    ),
    "empty_file": (
        "文件为空（0 字节）",
        "file is empty (0 bytes)",
        "重新导出该文件",
        "export the file again",
    ),
    "empty_sheet": (
        "工作表没有数据",
        "sheet holds no data",
        "删除该工作表或填入数据；只导入其他数据请用 --skip-bad-rows",
        "remove the sheet or fill it; use --skip-bad-rows to import the rest",
    ),
    "encrypted_workbook": (
        "工作簿有密码保护（已加密），无法读取",
        "workbook is password-protected (encrypted)",
        "在 Excel 中打开，文件 > 信息 > 保护工作簿 > 用密码进行加密，清空密码后保存再导入",
        "open it in Excel, remove the password (File > Info > Protect Workbook > Encrypt "
        "with Password), save and import again",
    ),
    "corrupt_file": (
        "文件无法读取：{detail}",
        "file cannot be read: {detail}",
        "确认文件完整且格式正确（xlsx/xls/csv），必要时重新导出",
        "check the file is complete and of the type its name says; export it again",
    ),
    "encoding": (
        "文件编码无法识别（不是 UTF-8 或 GBK/GB18030）：{detail}",
        "text encoding not recognised (not UTF-8 or GBK/GB18030): {detail}",
        '在映射文件中为该文件写 encoding = "gbk" 或 "utf-8"',
        'declare encoding = "gbk" or "utf-8" for the file in the mapping',
    ),
    "contract": (
        "不符合数据约定：{detail}",
        "breaks the data contract: {detail}",
        "改正源数据，或用 --skip-bad-rows 跳过这些行",
        "fix the source, or skip such rows with --skip-bad-rows",
    ),
    "more_rows": (
        "另有 {detail} 行同样的问题",
        "{detail} more rows with the same problem",
        "同上",
        "as above",
    ),
}


def describe_import_rule(rule: str, **fields: object) -> tuple[str, str, str, str]:
    """The four texts of a rule with its fields filled in."""
    values = {"table": "", "column": "", "value": "", "detail": ""}
    values.update({k: "" if v is None else str(v) for k, v in fields.items()})
    texts = IMPORT_RULES[rule]
    return tuple(t.format(**values) for t in texts)  # type: ignore[return-value]
