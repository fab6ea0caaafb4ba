"""Cells as exported -> contract values: dates, amounts, grades, IDs, category labels.

Each parser takes one column of a chunk (text from a CSV, or Excel's own cell values:
numbers, dates, text) and returns the typed column plus, per rule broken, a mask of the
cells that broke it. Text columns are parsed per distinct value (a date column of millions
of orders has a few hundred distinct days), so the cost is one ``factorize`` per column.

Rules are codes; ``features.i18n.describe_import_rule`` words them for people.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DATE_UNIT = "datetime64[us]"
EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's leap-year bug kept)
# Serial numbers read as dates only in a plausible range (1954-2119), so that an amount or
# an ID in a date column is an error rather than a date.
SERIAL_RANGE = (20_000, 80_000)
ID_DIGITS = 15  # Excel keeps 15 significant digits of a number

_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DMY = re.compile(
    r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
_FLOAT_INT = re.compile(r"^(\d+)\.0+$")
_NUMBER_NOISE = re.compile(r"[¥$,\s]|元|rmb|cny", flags=re.IGNORECASE)
_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SATISFACTION = {
    "非常满意": 5,
    "很满意": 5,
    "满意": 4,
    "比较满意": 4,
    "一般": 3,
    "基本满意": 3,
    "不满意": 2,
    "不太满意": 2,
    "非常不满意": 1,
    "很不满意": 1,
}


@dataclass
class Parsed:
    """A typed column and, per rule code, which cells broke it."""

    values: pd.Series
    errors: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, rule: str, mask: np.ndarray) -> None:
        if mask.any():
            self.errors[rule] = self.errors[rule] | mask if rule in self.errors else mask


def is_text_column(raw: pd.Series) -> bool:
    """True when every cell is text or missing (a CSV column), so the fast paths apply."""
    return pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object


def split_cells(raw: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The column as stripped text (``None`` where empty), and masks of blank and non-text."""
    if is_text_column(raw):
        text = raw.str.strip()
        blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
        return text.mask(blank, None), blank, np.zeros(len(raw), dtype=bool)
    is_str = np.fromiter((isinstance(x, str) for x in raw), dtype=bool, count=len(raw))
    text = pd.Series(None, index=raw.index, dtype=object)
    if is_str.any():
        text[is_str] = raw[is_str].str.strip()
    empty_str = is_str & (text.fillna("") == "").to_numpy()
    blank = empty_str | raw.isna().to_numpy()
    text[empty_str] = None
    return text, blank, ~is_str & ~blank


def by_unique(
    text: pd.Series,
    parse: Callable[[str], tuple[object, str | None]],
    empty: object = None,
    dtype: str = "object",
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``parse`` to each distinct non-empty text once; values and rule per row.

    ``empty`` fills blank cells (and failures) so that values can be a typed array (``dtype``)
    taken by code, never a Python object per row.
    """
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    results = [parse(u) for u in uniques]
    values = [empty if r[0] is None else r[0] for r in results] + [empty]
    rules = [r[1] for r in results] + [None]
    take = np.where(codes >= 0, codes, len(uniques))
    rule_array = np.asarray(rules, dtype=object)
    per_row = (
        rule_array[take]
        if any(r is not None for r in rules)
        else np.full(len(take), None, dtype=object)
    )
    return np.asarray(values, dtype=dtype)[take], per_row


def add_rule_masks(parsed: Parsed, rules: np.ndarray) -> None:
    for rule in pd.unique(rules[pd.notna(rules)]):
        parsed.add(str(rule), rules == rule)


# --------------------------------------------------------------------------- IDs and text


def parse_id(raw: pd.Series) -> Parsed:
    """IDs stay text: leading zeros kept, ``123.0`` -> ``123``, scientific notation refused."""
    text, blank, other = split_cells(raw)
    out = text.copy() if is_text_column(raw) else text.astype(object)
    parsed = Parsed(out)
    present = ~blank & ~other
    if present.any():
        array = pa.array(text if is_text_column(raw) else text.where(present).astype("str"))
        # Plain codes (the usual case) need nothing: ASCII, no "E" that could be Excel's
        # scientific form, no ".0" of a float; three literal scans instead of a regex.
        plain = (
            pc.all(pc.string_is_ascii(array)).as_py() is not False
            and not pc.any(pc.match_substring(array, "e", ignore_case=True)).as_py()
            and not pc.any(pc.ends_with(array, ".0")).as_py()
        )
        if plain:
            present = np.zeros(len(raw), dtype=bool)
    if present.any():
        folded = text.where(present)
        if not folded.str.isascii().fillna(True).all():
            folded = folded.map(lambda v: unicodedata.normalize("NFKC", v), na_action="ignore")
        scientific = folded.str.match(_SCIENTIFIC).fillna(False).to_numpy(dtype=bool)
        parsed.add("id_scientific", scientific)
        folded = folded.str.replace(_FLOAT_INT, r"\1", regex=True)
        out[present] = folded[present]
        out[scientific] = None
    if other.any():
        cells = raw.to_numpy(dtype=object)
        values = out.to_numpy(dtype=object, copy=True)
        fraction = np.zeros(len(raw), dtype=bool)
        too_long = np.zeros(len(raw), dtype=bool)
        for i in np.flatnonzero(other):
            value = cells[i]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                values[i] = str(value)
            elif isinstance(value, float) and not value.is_integer():
                fraction[i], values[i] = True, None
            elif abs(value) >= 10**ID_DIGITS:
                too_long[i], values[i] = True, None
            else:
                values[i] = str(int(value))
        parsed.add("id_fraction", fraction)
        parsed.add("id_precision", too_long)
        out = pd.Series(values, index=raw.index, dtype=object)
    parsed.values = out
    return parsed


def parse_text(raw: pd.Series) -> Parsed:
    """Free text (titles, roles): stripped; numbers written without a trailing ``.0``."""
    text, _blank, other = split_cells(raw)
    if other.any():
        cells = raw.to_numpy(dtype=object)
        values = text.to_numpy(dtype=object, copy=True)
        for i in np.flatnonzero(other):
            value = cells[i]
            whole = isinstance(value, float) and value.is_integer()
            values[i] = str(int(value)) if whole else str(value)
        text = pd.Series(values, index=raw.index, dtype=object)
    return Parsed(text)


def _mask(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


# --------------------------------------------------------------------------- dates


def _date_from_parts(year: int, month: int, day: int) -> tuple[object, str | None]:
    try:
        return dt.datetime(year, month, day), None
    except ValueError:
        return None, "date_invalid"


def parse_date_text(text: str, date_format: str | None = None) -> tuple[object, str | None]:
    """One date as written -> (datetime or None, rule broken or None)."""
    if date_format:
        try:
            return dt.datetime.strptime(text, date_format), None
        except ValueError:
            return None, "date_format"
    text = unicodedata.normalize("NFKC", text)
    if m := _YMD.match(text):
        return _date_from_parts(int(m[1]), int(m[2]), int(m[3]))
    if m := _COMPACT.match(text):
        return _date_from_parts(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY.match(text):
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        if first > 12 >= second:
            return _date_from_parts(year, second, first)
        if second > 12 >= first:
            return _date_from_parts(year, first, second)
        if first == second:
            return _date_from_parts(year, first, second)
        return None, "date_ambiguous"
    if _SERIAL.match(text):
        return _serial(float(text))
    return None, "date_invalid"


def _serial(value: float) -> tuple[object, str | None]:
    if SERIAL_RANGE[0] <= value <= SERIAL_RANGE[1]:
        return EXCEL_EPOCH + dt.timedelta(days=int(value)), None
    return None, "date_invalid"


_NAT = np.datetime64("NaT", "us")


def _as_datetime64(result: tuple[object, str | None]) -> tuple[object, str | None]:
    value, rule = result
    return (None if value is None else np.datetime64(value, "us")), rule


def parse_date(raw: pd.Series, date_format: str | None = None) -> Parsed:
    """Dates from 2025-06-02, 2025/6/2, 2025年6月2日, 20250602, Excel serials or Excel dates.

    Day-first or month-first forms (02/06/2025) are read only when the numbers leave no
    doubt (13/06/2025); otherwise the cell is ``date_ambiguous`` unless a format is declared.
    """
    text, _blank, other = split_cells(raw)
    values, rules = by_unique(
        text, lambda t: _as_datetime64(parse_date_text(t, date_format)), _NAT, DATE_UNIT
    )
    if other.any():
        cells = raw.to_numpy(dtype=object)
        index = np.flatnonzero(other)
        is_date = np.fromiter(
            (isinstance(cells[i], dt.date) for i in index), dtype=bool, count=len(index)
        )
        if is_date.any():  # Excel's own dates: one numpy conversion, not one per cell
            dates = [
                c.replace(tzinfo=None) if isinstance(c, dt.datetime) else c
                for c in cells[index[is_date]]
            ]
            values[index[is_date]] = np.array(dates, dtype=DATE_UNIT)
        for i in index[~is_date]:
            value = cells[i]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[i], rules[i] = _as_datetime64(_serial(float(value)))
            else:
                rules[i] = "date_invalid"
    parsed = Parsed(pd.Series(values, index=raw.index, dtype=DATE_UNIT))
    add_rule_masks(parsed, rules)
    return parsed


# --------------------------------------------------------------------------- numbers


# Signs, separators and spaces an amount may carry. They are cut out of the column's UTF-8
# bytes with numpy (Arrow's replace_substring costs ~0.5 s per million cells) and the rest
# is cast by Arrow; a cell needing more (full-width digits, 万, %) takes the general path.
_DROP_BYTES = tuple(b", \t$")
_DROP_SEQUENCES = tuple(np.frombuffer(t.encode(), dtype=np.uint8) for t in ("￥", "¥", "元", "，"))


def _arrow_numbers(raw: pd.Series) -> pd.Series | None:
    """Numbers from a text column in one vectorised pass, or None if some cell will not cast."""
    array = pa.array(raw)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    try:  # a clean column (digits only, no blanks) casts as it is
        return pd.Series(
            pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False), index=raw.index
        )
    except pa.ArrowInvalid:
        pass
    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + n + 1]
    if data_buffer is None or offsets[-1] == offsets[0]:
        return pd.Series(np.nan, index=raw.index)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[: offsets[-1]]
    # Byte comparisons (SIMD) rather than a 256-entry lookup, which would index with intp.
    drop = data == _DROP_BYTES[0]
    for byte in _DROP_BYTES[1:]:
        drop |= data == byte
    for seq in _DROP_SEQUENCES:
        # Candidates by the first byte, then confirmed byte by byte at those places only.
        starts = np.flatnonzero(data[: len(data) - len(seq) + 1] == seq[0])
        for j in range(1, len(seq)):
            starts = starts[data[starts + j] == seq[j]]
        for j in range(len(seq)):
            drop[starts + j] = True
    # Offsets shrink by the bytes dropped before them: a count per cell, then a running sum.
    relative = offsets - offsets[0]
    padded = np.append(drop[offsets[0] :], False).view(np.uint8)
    per_cell = np.add.reduceat(padded, relative[:-1], dtype=np.int64)
    per_cell[relative[1:] == relative[:-1]] = 0  # reduceat gives an empty cell its neighbour
    new_offsets = relative - np.concatenate([[0], np.cumsum(per_cell, dtype=np.int64)])
    valid = np.diff(new_offsets) > 0
    if array.null_count:
        valid &= array.is_valid().to_numpy(zero_copy_only=False)
    cleaned = pa.Array.from_buffers(
        pa.large_string(),
        n,
        [
            pa.py_buffer(np.packbits(valid, bitorder="little")),
            pa.py_buffer(new_offsets),
            pa.py_buffer(np.ascontiguousarray(data[offsets[0] :][~drop[offsets[0] :]])),
        ],
    )
    try:
        numbers = pc.cast(cleaned, pa.float64())
    except pa.ArrowInvalid:
        return None
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=raw.index)


def _clean_number_text(text: pd.Series, percent: bool) -> pd.Series:
    if not text.str.isascii().fillna(True).all():
        text = text.map(lambda v: unicodedata.normalize("NFKC", v), na_action="ignore")
    cleaned = text.str.replace(_NUMBER_NOISE, "", regex=True)
    scale = pd.Series(1.0, index=text.index)
    wan = cleaned.str.endswith("万").fillna(False)
    if wan.any():
        scale[wan] = 1e4
        cleaned = cleaned.str.removesuffix("万")
    if percent:
        pct = cleaned.str.endswith("%").fillna(False)
        if pct.any():
            scale[pct] = 0.01
            cleaned = cleaned.str.removesuffix("%")
    return pd.to_numeric(cleaned, errors="coerce") * scale


def parse_number(raw: pd.Series, scale: float = 1.0, percent: bool = False) -> Parsed:
    """Numbers from 1234.5, ¥1,234.50, ￥1，234.50, 1234.5元, 1.2万, full-width digits.

    Args:
        scale: multiplier from the header's unit (10,000 for a column headed 金额(万元)).
        percent: accept ``35%`` as 0.35 (shares only; a ``%`` in an amount is an error).
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return Parsed(raw.astype("float64") * scale)
    if is_text_column(raw):
        fast = _arrow_numbers(raw)
        if fast is not None:
            return Parsed(fast * scale)
    text, blank, other = split_cells(raw)
    if is_text_column(raw):
        numbers = _clean_number_text(text, percent)
    else:
        numbers = pd.Series(np.nan, index=raw.index)
        is_text = ~blank & ~other
        if is_text.any():
            numbers[is_text] = _clean_number_text(text[is_text].astype("str"), percent)
        cells = raw.to_numpy(dtype=object)
        index = np.flatnonzero(other)
        numeric = np.fromiter(
            (isinstance(c, (int, float)) and not isinstance(c, bool) for c in cells[index]),
            dtype=bool,
            count=len(index),
        )
        values = numbers.to_numpy(dtype="float64", copy=True)
        values[index[numeric]] = cells[index[numeric]].astype("float64")
        numbers = pd.Series(values, index=raw.index)
    numbers = numbers.astype("float64") * scale
    parsed = Parsed(numbers)
    parsed.add("not_number", numbers.isna().to_numpy() & ~blank)
    return parsed


def _whole_label(text: str, labels: dict[str, int]) -> tuple[object, str | None]:
    folded = unicodedata.normalize("NFKC", text).strip()
    if folded in labels:
        return labels[folded], None
    core = folded.removeprefix("第").removesuffix("档").removesuffix("级").removesuffix("分")
    core = core.strip()
    if core and all(c in _CN_DIGITS or c == "十" for c in core):
        return _chinese_number(core), None
    try:
        number = float(core.replace(",", ""))
    except ValueError:
        return None, "not_whole_number"
    if not number.is_integer():
        return None, "not_whole_number"
    return int(number), None


def _chinese_number(text: str) -> int | None:
    """一 .. 九十九 (enough for grades 1-30 written 第十五档)."""
    if "十" not in text:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


def parse_whole(raw: pd.Series, labels: dict[str, int] | None = None) -> Parsed:
    """Whole numbers, also as 第5档 / 5档 / 五档 / 5级 / 5分, or a label (非常满意 -> 5)."""
    labels = labels or {}
    text, _blank, other = split_cells(raw)
    values, rules = by_unique(text, lambda t: _whole_label(t, labels), np.nan, "float64")
    cells = raw.to_numpy(dtype=object) if other.any() else None
    for i in np.flatnonzero(other):
        value = cells[i]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if float(value).is_integer():
                values[i] = int(value)
            else:
                rules[i] = "not_whole_number"
        else:
            rules[i] = "not_whole_number"
    missing = np.isnan(values)
    typed = pd.Series(
        pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing),
        index=raw.index,
    )
    parsed = Parsed(typed)
    add_rule_masks(parsed, rules)
    return parsed


def satisfaction_labels() -> dict[str, int]:
    return dict(_SATISFACTION)
